"""The Binhai demo: approximate 街镇 boundaries, ~100 invented care homes, one account per role. Idempotent."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from .importers.carehomes import import_carehomes
from .importers.subdistricts import import_subdistricts
from .models import CareHome, Profile, Role, SafetyServiceProvider, Subdistrict

FIXTURES = Path(settings.BASE_DIR) / "fixtures"
DEMO_PASSWORD = "demo12345"
DEMO_SUBDISTRICT = "120116001"  # 塘沽街道
DEMO_PROVIDER = "天津市安消安全技术服务有限公司（演示）"

# username, role, display name
DEMO_ACCOUNTS = [
    ("bureau", Role.BUREAU, "区民政局 王科长"),
    ("fire", Role.FIRE_RESCUE, "滨海新区消防救援支队 李参谋"),
    ("street", Role.SUBDISTRICT, "塘沽街道 赵干事"),
    ("home", Role.CARE_HOME, "养老机构 周院长"),
    ("thirdparty", Role.THIRD_PARTY, "第三方安全服务机构 孙工"),
]


def load_demo(stdout=None, *, ledger: bool = True, layers: bool = True) -> None:
    def say(text: str) -> None:
        if stdout is not None:
            stdout.write(text)

    if Subdistrict.objects.filter(boundary_is_approximate=False).exists():
        say("已有正式街镇边界，跳过演示边界")
    else:
        report = import_subdistricts(
            FIXTURES / "binhai_subdistricts_demo.geojson", commit=True, create_missing=True, approximate=True
        )
        changed = sum(1 for f in report.features if not f.unchanged)
        say(f"街镇（演示用近似边界）：{len(report.features)} 个，变更 {changed} 个")
    path = FIXTURES / "demo_carehomes.csv"
    report = import_carehomes(path.read_bytes(), path.name, demo=True)
    if report.errors:
        raise RuntimeError(report.as_text())
    say(f"演示养老机构：新增 {report.created}，更新 {report.updated}，无变化 {report.unchanged}")
    created = demo_accounts()
    say(f"演示账号：新建 {created} 个")
    if ledger:
        from gis_app.hazards.demo import load_demo_ledger
        from gis_app.inspections.catalogue import load_catalogue

        changed = load_catalogue()
        say(f"检查表与判定标准：新增检查项 {changed['items']} 个")
        load_demo_ledger(stdout=stdout)
    if layers:
        from layers.demo import load_demo_layers

        load_demo_layers(stdout=stdout)
    from gis_app.alarms.demo import load_demo_alarms
    from gis_app.rating.scoring import load_default_rubric
    from gis_app.risk.dashboard import load_campaigns
    from gis_app.risk.scoring import load_weights, recompute_all

    load_demo_alarms()
    from gis_app.routing.services import load_places

    load_places()
    load_weights()
    load_campaigns()
    load_default_rubric()
    counts = recompute_all()
    say(f"风险评分：{counts['homes']} 家机构，{counts['subdistricts']} 个汇总")


@transaction.atomic
def demo_accounts() -> int:
    User = get_user_model()
    subdistrict = Subdistrict.objects.get(code=DEMO_SUBDISTRICT)
    home = CareHome.objects.filter(subdistrict=subdistrict, is_demo=True).order_by("credit_code").first()
    provider = SafetyServiceProvider.objects.get(name=DEMO_PROVIDER)
    created = 0
    for username, role, display in DEMO_ACCOUNTS:
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": display, "is_staff": role == Role.BUREAU, "is_superuser": role == Role.BUREAU},
        )
        if was_created:
            user.set_password(DEMO_PASSWORD)
            user.save()
            created += 1
        Profile.objects.update_or_create(
            user=user,
            defaults={
                "role": role,
                "organisation": display.split(" ")[0],
                "subdistrict": subdistrict if role == Role.SUBDISTRICT else None,
                "care_home": home if role == Role.CARE_HOME else None,
                "safety_service": provider if role == Role.THIRD_PARTY else None,
            },
        )
    return created


def describe_accounts() -> list[str]:
    lines = []
    for username, role, display in DEMO_ACCOUNTS:
        profile = (
            Profile.objects.filter(user__username=username)
            .select_related("subdistrict", "care_home", "safety_service")
            .first()
        )
        scope = ""
        if profile is not None:
            scope = str(profile.subdistrict or profile.care_home or profile.safety_service or "全区")
        lines.append(f"    {username:<11} {Role(role).label:<10} {display}（范围：{scope}）")
    return lines
