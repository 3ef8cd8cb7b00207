"""The three lists (三项清单) and the full ledger as .xlsx, for a home, a 街镇 or the district."""

import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.core.files import File

from gis_app.carehomes.models import CareHome, Role, Subdistrict
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.inspections.models import InspectionKind
from gis_app.lib import clock, media
from gis_app.lib.excel import Column, Sheet, write_workbook

from .models import OPEN_STATUSES, Category, Hazard, Severity, Status


@dataclass
class Scope:
    kind: str  # district | subdistrict | carehome
    label: str
    homes: object  # CareHome queryset

    @classmethod
    def parse(cls, text: str, user=None) -> "Scope":
        """district | subdistrict:<code> | carehome:<id>, limited to what `user` may see (None: everything)."""
        homes = visible_carehomes(user) if user is not None else CareHome.objects.all()
        kind, _, value = text.partition(":")
        if kind == "district" and not value:
            return cls("district", _whole_scope_label(user, homes), homes)
        if kind == "subdistrict" and value:
            sub = Subdistrict.objects.filter(code=value).first()
            if sub is None:
                raise ValueError(f"没有区划代码为 {value} 的街镇")
            return cls("subdistrict", sub.name, homes.filter(subdistrict=sub))
        if kind == "carehome" and value.isdigit():
            home = homes.filter(pk=int(value)).first()
            if home is None:
                raise ValueError(f"没有编号为 {value} 的养老机构，或无权查看")
            return cls("carehome", home.name, homes.filter(pk=home.pk))
        raise ValueError(f"范围格式应为 district、subdistrict:<代码> 或 carehome:<编号>，实际为“{text}”")


def _whole_scope_label(user, homes) -> str:
    """What "everything I see" is called on a list's title: the district for district-wide roles, else the home or the
    街镇 the user's scope covers, so a street office's list is never titled 滨海新区."""
    role = role_of(user) if user is not None else Role.BUREAU
    if role in (Role.BUREAU, Role.FIRE_RESCUE):
        return "滨海新区"
    if role == Role.CARE_HOME:
        home = homes.first()
        return home.name if home else "无可见机构"
    names = sorted({name for name in homes.values_list("subdistrict__name", flat=True) if name})
    if not names:
        return "无可见机构"
    return names[0] if len(names) == 1 else f"{names[0]}等{len(names)}个街镇"


FIELDS = (
    "care_home__name", "care_home__subdistrict__name", "key_place__name", "category", "description", "severity",
    "criterion__code", "found_on", "inspection__kind", "status", "responsible_person", "responsible_phone", "due_on",
    "plan_measures", "plan_safeguards", "rectification_note", "rectified_on", "verified_by__first_name",
    "verified_by__username", "verified_on", "closed_on", "check_result__item__text",
)  # fmt: skip
CATEGORY, SEVERITY, STATUS = dict(Category.choices), dict(Severity.choices), dict(Status.choices)
KIND = dict(InspectionKind.choices)


def _rows(homes):
    """Plain tuples, streamed: no model instances (100,000 hazards would cost seconds each pass)."""
    qs = (
        Hazard.objects.filter(care_home__in=homes)
        .order_by("care_home__subdistrict__code", "care_home__name", "found_on", "id")
        .values_list(*FIELDS)
    )
    for row in qs.iterator(chunk_size=5000):
        yield dict(zip(FIELDS, row, strict=True))


def sheets_for(scope: Scope) -> list[Sheet]:
    today = clock.today()
    stamp = f"{scope.label}（导出日期 {today:%Y-%m-%d}）"
    open_statuses = set(OPEN_STATUSES)

    def hazard_rows():
        for i, h in enumerate(_rows(scope.homes), start=1):
            yield [
                i,
                h["care_home__name"],
                h["care_home__subdistrict__name"],
                h["key_place__name"],
                CATEGORY[h["category"]],
                h["description"],
                h["check_result__item__text"] or "",
                SEVERITY[h["severity"]],
                h["criterion__code"],
                h["found_on"],
                KIND.get(h["inspection__kind"], "上报"),
                STATUS[h["status"]],
            ]

    def responsibility_rows():
        for i, h in enumerate(_rows(scope.homes), start=1):
            overdue = h["status"] in open_statuses and h["due_on"] < today
            yield [i, h["care_home__name"], h["description"], h["responsible_person"], h["responsible_phone"],
                   h["due_on"], h["plan_measures"], h["plan_safeguards"], "是" if overdue else "否",
                   (today - h["due_on"]).days if overdue else 0]  # fmt: skip

    def implementation_rows():
        for i, h in enumerate(_rows(scope.homes), start=1):
            yield [i, h["care_home__name"], h["description"], h["rectification_note"], h["rectified_on"],
                   h["verified_by__first_name"] or h["verified_by__username"], h["verified_on"], h["closed_on"],
                   STATUS[h["status"]]]  # fmt: skip

    return [
        Sheet("隐患问题清单", f"隐患问题清单 · {stamp}", [
            Column("序号", 6, "int"), Column("养老机构", 28), Column("街镇", 12), Column("重点部位", 14),
            Column("隐患类别", 16), Column("隐患描述", 48), Column("未通过的检查项", 36), Column("等级", 10),
            Column("判定条款", 16),
            Column("发现日期", 12, "date"), Column("发现方式", 12), Column("状态", 12)], hazard_rows()),
        Sheet("整改责任清单", f"整改责任清单 · {stamp}", [
            Column("序号", 6, "int"), Column("养老机构", 28), Column("隐患描述", 48), Column("整改责任人", 12),
            Column("联系电话", 14), Column("整改期限", 12, "date"), Column("整改措施", 36), Column("临时防范措施", 30),
            Column("是否逾期", 10), Column("逾期天数", 10, "int")], responsibility_rows()),
        Sheet("整改落实清单", f"整改落实清单 · {stamp}", [
            Column("序号", 6, "int"), Column("养老机构", 28), Column("隐患描述", 48), Column("整改情况", 36),
            Column("整改完成日期", 14, "date"), Column("复查人", 12), Column("复查日期", 12, "date"),
            Column("销号日期", 12, "date"), Column("状态", 12)], implementation_rows()),
    ]  # fmt: skip


def export_ledger(target, scope: Scope, progress=None) -> int:
    return write_workbook(target, sheets_for(scope), progress=progress)


def export_ledger_job(job, progress) -> dict:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=job.created_by_id).first()
    scope = Scope.parse(job.params["scope"], user)
    total = Hazard.objects.filter(care_home__in=scope.homes).count() * 3
    progress(0, total, "正在生成", force=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"ledger-{job.pk}.xlsx"
        rows = export_ledger(path, scope, progress=lambda n: progress(n, total, f"已写入 {n} 行"))
        with path.open("rb") as f:
            name = media.save(f"exports/{path.name}", File(f))
    filename = f"三项清单-{scope.label}-{clock.today():%Y%m%d}.xlsx"
    return {"file": name, "rows": rows, "scope": scope.label, "filename": filename}
