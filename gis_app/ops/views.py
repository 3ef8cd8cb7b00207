"""The audit trail for the bureau: row changes (pghistory) and access events, searched by home, user and date."""

from datetime import date, datetime, time, timedelta

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone
from pghistory.models import Events

from gis_app.carehomes.models import CareHome, Role
from gis_app.carehomes.scope import role_of
from gis_app.lib.excel import Column, Sheet, xlsx_response

from .models import AccessEvent

LABELS = {"insert": "新增", "update": "修改", "delete": "删除"}
PAGE = 200
MAX_EXPORT = 20_000


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filters(request) -> dict:
    g = request.GET
    home = CareHome.objects.filter(pk=int(g["home"])).first() if g.get("home", "").isdigit() else None
    user = get_user_model().objects.filter(username=g.get("user", "").strip()).first() if g.get("user") else None
    today = timezone.localdate()
    start, end = _day(g.get("from")) or today - timedelta(days=30), _day(g.get("to")) or today
    return {
        "home": home,
        "user": user,
        "username": g.get("user", "").strip()[:150],
        "from": start,
        "to": end,
        "kind": g.get("kind") if g.get("kind") in ("changes", "access") else "all",
    }


def _window(f: dict) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (datetime.combine(f["from"], time.min, tz), datetime.combine(f["to"], time.max, tz))


def changes(f: dict, limit: int):
    if f["kind"] == "access" or (f["username"] and f["user"] is None):
        return []
    start, end = _window(f)
    qs = Events.objects.filter(pgh_created_at__range=(start, end))
    if f["home"] is not None:
        home = f["home"].pk
        qs = qs.filter(Q(pgh_data__care_home_id=home) | Q(pgh_obj_model="carehomes.CareHome", pgh_obj_id=str(home)))
    if f["user"] is not None:
        qs = qs.filter(pgh_context__user=f["user"].pk)
    rows = list(qs.order_by("-pgh_created_at")[:limit])
    names = dict(
        get_user_model()
        .objects.filter(pk__in={(r.pgh_context or {}).get("user") for r in rows} - {None})
        .values_list("pk", "username")
    )
    out = []
    for r in rows:
        context = r.pgh_context or {}
        model = apps.get_model(r.pgh_obj_model)
        diff = r.pgh_diff or {}
        out.append(
            {
                "at": r.pgh_created_at,
                "user": names.get(context.get("user"), "（系统/后台任务）"),
                "ip": context.get("ip", ""),
                "what": f"{model._meta.verbose_name} #{r.pgh_obj_id}",
                "action": LABELS.get(r.pgh_label, r.pgh_label),
                "changes": "；".join(
                    f"{_label(model, k)}：{_short(v[0])} → {_short(v[1])}"
                    for k, v in diff.items()
                    if k not in ("updated_at", "id")
                ),
                "url": context.get("url", ""),
            }
        )
    return out


def _label(model, field: str) -> str:
    try:
        return str(model._meta.get_field(field).verbose_name)
    except Exception:  # noqa: BLE001 - a field dropped since: show its name
        return field


def _short(value) -> str:
    text = "空" if value in (None, "") else str(value)
    return text if len(text) <= 60 else text[:60] + "…"


def accesses(f: dict, limit: int):
    if f["kind"] == "changes" or f["home"] is not None:
        return []
    start, end = _window(f)
    qs = AccessEvent.objects.filter(at__range=(start, end)).select_related("user")
    if f["username"]:
        qs = (
            qs.filter(Q(user=f["user"]) | Q(username=f["username"])) if f["user"] else qs.filter(username=f["username"])
        )
    return list(qs[:limit])


@login_required
def audit(request):
    if role_of(request.user) != Role.BUREAU:
        raise PermissionDenied("只有区民政局可以查看审计记录")
    f = _filters(request)
    if request.GET.get("format") == "xlsx":
        rows = changes(f, MAX_EXPORT)
        access = accesses(f, MAX_EXPORT)
        title = f"审计记录（{f['from']:%Y-%m-%d} 至 {f['to']:%Y-%m-%d}）"
        return xlsx_response(
            "审计记录",
            [
                Sheet(
                    "数据变更",
                    title,
                    [
                        Column("时间", 20),
                        Column("用户", 14),
                        Column("来源地址", 16),
                        Column("对象", 28),
                        Column("操作", 8),
                        Column("变更内容", 80),
                    ],
                    [
                        [
                            timezone.localtime(r["at"]).strftime("%Y-%m-%d %H:%M:%S"),
                            r["user"],
                            r["ip"],
                            r["what"],
                            r["action"],
                            r["changes"],
                        ]
                        for r in rows
                    ],
                ),
                Sheet(
                    "登录与下载",
                    title,
                    [
                        Column("时间", 20),
                        Column("用户", 14),
                        Column("操作", 10),
                        Column("来源地址", 16),
                        Column("地址", 60),
                    ],
                    [
                        [
                            timezone.localtime(a.at).strftime("%Y-%m-%d %H:%M:%S"),
                            a.username or (a.user.username if a.user else ""),
                            a.get_action_display(),
                            a.ip or "",
                            a.path,
                        ]
                        for a in access
                    ],
                ),
            ],
        )
    return render(
        request,
        "ops/audit.html",
        {
            "f": f,
            "changes": changes(f, PAGE),
            "accesses": accesses(f, PAGE),
            "page": PAGE,
            "homes": CareHome.objects.order_by("name").only("pk", "name"),
            "query": request.GET.urlencode(),
        },
    )
