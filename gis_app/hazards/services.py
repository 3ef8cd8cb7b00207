"""State changes of the ledger. Every change locks the hazard's row, checks who acts and from which state, writes the
new state and appends one history event, all in one transaction; a refusal raises HazardError with a stable code."""

import contextvars
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from gis_app.carehomes.models import CareHome, Role
from gis_app.carehomes.scope import role_of
from gis_app.lib import clock
from gis_app.lib.validation import implausible_day, outside_region, too_long
from gis_app.risk.services import request_recompute

from . import notices
from . import permissions as perms
from .models import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    Hazard,
    HazardEvent,
    HazardPhoto,
    Severity,
    Status,
    SupervisionEntry,
    SupervisionListing,
)


class HazardError(Exception):
    """A refused change: `code` is for programs and tests, the message for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Rule:
    label: str
    sources: tuple[str, ...]
    target: str | None  # None: the status does not change
    power: str


RULES: dict[str, Rule] = {
    "assign": Rule("交办", (Status.REPORTED, Status.REOPENED, Status.ASSIGNED), Status.ASSIGNED, perms.MANAGE),
    "start": Rule("开始整改", (Status.ASSIGNED, Status.REOPENED), Status.RECTIFYING, perms.RECTIFY),
    "plan": Rule("制定整改方案", (Status.ASSIGNED, Status.RECTIFYING, Status.REOPENED), None, perms.RECTIFY),
    "submit": Rule("提交复查", (Status.RECTIFYING,), Status.SUBMITTED, perms.RECTIFY),
    # The home fixed it already (often a hazard it found itself): one step with the evidence; verification stays apart.
    "rectified": Rule(
        "已整改提交复查", (Status.REPORTED, Status.ASSIGNED, Status.REOPENED), Status.SUBMITTED, perms.RECTIFY
    ),
    "verify": Rule("复查通过", (Status.SUBMITTED,), Status.VERIFIED, perms.VERIFY),
    "close_out": Rule("销号", (Status.VERIFIED,), Status.CLOSED, perms.VERIFY),  # before 退回: the likelier step
    "send_back": Rule("复查退回", (Status.SUBMITTED, Status.VERIFIED), Status.RECTIFYING, perms.VERIFY),
    "fix_on_spot": Rule("即查即改销号", (Status.REPORTED,), Status.CLOSED, perms.VERIFY),
    "close_unfixed": Rule("未整改关闭", OPEN_STATUSES, Status.CLOSED_UNFIXED, perms.BUREAU_ONLY),
    "reopen": Rule("重新打开", FINAL_STATUSES, Status.REOPENED, perms.VERIFY),
}


def allowed_actions(user, hazard: Hazard) -> list[str]:
    """The steps `user` may take now, the likeliest first: a home that can fix and submit at once sees that first."""
    allowed = [
        action
        for action, rule in RULES.items()
        if hazard.status in rule.sources and perms.has_power(user, hazard.care_home, rule.power)
    ]
    if "rectified" in allowed and role_of(user) == Role.CARE_HOME:
        allowed.remove("rectified")
        allowed.insert(0, "rectified")
    return allowed


def default_due_on(severity: str, found_on: date) -> date:
    return found_on + timedelta(days=settings.HAZARD_DUE_DAYS[severity])


def _actor_name(user) -> str:
    if user is None:
        return "系统"
    return user.get_full_name() or user.first_name or user.username


def _add_photos(hazard: Hazard, photos: Iterable[UploadedFile], stage: str, by) -> int:
    count = 0
    for photo in photos or ():
        HazardPhoto.objects.create(hazard=hazard, stage=stage, image=photo, uploaded_by=by)
        count += 1
    return count


def report_hazard(
    *,
    care_home: CareHome,
    description: str,
    by,
    category: str = "other",
    severity: str = Severity.GENERAL,
    criterion=None,
    key_place=None,
    location=None,
    found_on: date | None = None,
    due_on: date | None = None,
    inspection=None,
    check_result=None,
    responsible_person: str = "",
    responsible_phone: str = "",
    photos: Iterable[UploadedFile] = (),
    uuid=None,
    check_permission: bool = True,
) -> Hazard:
    if check_permission and not perms.can_report_hazard(by, care_home):
        raise HazardError("forbidden", "您无权为该养老机构上报隐患")
    if not description.strip():
        raise HazardError("description_required", "请填写隐患描述")
    if severity == Severity.MAJOR and criterion is None:
        raise HazardError("criterion_required", "重大隐患必须注明判定条款")
    found_on = found_on or clock.today()
    due_on = due_on or default_due_on(severity, found_on)
    if due_on < found_on:
        raise HazardError("invalid_due_date", "整改期限不能早于发现日期")
    _check_plausible(
        description=description,
        responsible_person=responsible_person,
        responsible_phone=responsible_phone,
        found_on=found_on,
        location=location,
    )
    if uuid is not None:
        # A repeat of one report (a double click, a retried request, a re-imported tablet) is answered with the first.
        earlier = _earlier_report(uuid, care_home)
        if earlier is not None:
            return earlier
    try:
        return _create_report(
            care_home=care_home,
            description=description,
            by=by,
            category=category,
            severity=severity,
            criterion=criterion,
            key_place=key_place,
            location=location,
            found_on=found_on,
            due_on=due_on,
            inspection=inspection,
            check_result=check_result,
            responsible_person=responsible_person,
            responsible_phone=responsible_phone,
            photos=photos,
            uuid=uuid,
        )
    except IntegrityError:
        earlier = _earlier_report(uuid, care_home) if uuid is not None else None
        if earlier is None:
            raise
        return earlier


def _earlier_report(uuid, care_home) -> Hazard | None:
    earlier = Hazard.objects.filter(uuid=uuid).first()
    if earlier is not None and earlier.care_home_id != care_home.pk:
        raise HazardError("uuid_taken", "该提交编号已用于另一家养老机构的隐患")
    if earlier is not None:
        earlier.replayed = True
    return earlier


def _create_report(
    *,
    care_home,
    description,
    by,
    category,
    severity,
    criterion,
    key_place,
    location,
    found_on,
    due_on,
    inspection,
    check_result,
    responsible_person,
    responsible_phone,
    photos,
    uuid,
) -> Hazard:
    with transaction.atomic():
        hazard = Hazard.objects.create(
            care_home=care_home, description=description.strip(), category=category, severity=severity,
            criterion=criterion if severity == Severity.MAJOR else None, key_place=key_place, location=location,
            found_on=found_on, due_on=due_on, inspection=inspection, check_result=check_result, found_by=by,
            responsible_person=responsible_person or care_home.fire_safety_manager,
            responsible_phone=responsible_phone or care_home.fire_safety_manager_phone, uuid=uuid,
        )  # fmt: skip
        _add_photos(hazard, photos, HazardPhoto.Stage.BEFORE, by)
        _event(hazard, by=by, action="上报", from_status="", comment=f"整改期限 {due_on:%Y-%m-%d}")
        request_recompute()
    return hazard


def _event(hazard: Hazard, *, by, action: str, from_status: str, comment: str = "") -> HazardEvent:
    return HazardEvent.objects.create(
        hazard=hazard, care_home_id=hazard.care_home_id, at=clock.now(), by=by, by_name=_actor_name(by),
        action=action, from_status=from_status, to_status=hazard.status, comment=comment,
    )  # fmt: skip


# The version (updated_at) a person saw when they chose an action; set around a service call with `expecting()`.
_expected_version: contextvars.ContextVar = contextvars.ContextVar("expected_hazard_version", default=None)


@contextmanager
def expecting(version):
    """Within this block, a lifecycle step is refused ("stale") if the hazard changed since `version` (its updated_at
    when the page or API client read it); None checks nothing. Checked under the hazard's row lock."""
    token = _expected_version.set(version)
    try:
        yield
    finally:
        _expected_version.reset(token)


def _transition(
    hazard: Hazard, action: str, *, by, comment: str = "", change: Callable[[Hazard], None] | None = None
) -> Hazard:
    rule = RULES[action]
    with transaction.atomic():
        locked = Hazard.objects.select_for_update().select_related("care_home").get(pk=hazard.pk)
        expected = _expected_version.get()
        if expected is not None and locked.updated_at != expected:
            raise HazardError(
                "stale",
                f"该隐患已被他人更新（当前状态：{locked.get_status_display()}），未执行“{rule.label}”：请查看最新情况后再操作",
            )
        if not perms.has_power(by, locked.care_home, rule.power):
            raise HazardError("forbidden", f"您无权对该隐患执行“{rule.label}”")
        if locked.status not in rule.sources:
            raise HazardError("invalid_transition", f"“{locked.get_status_display()}”状态的隐患不能执行“{rule.label}”")
        before = locked.status
        if change is not None:
            change(locked)
        if rule.target is not None:
            locked.status = rule.target
        locked.save()
        event = _event(locked, by=by, action=rule.label, from_status=before, comment=comment)
        notices.announce(locked, action, event, by=by)
        request_recompute()
    hazard.refresh_from_db()
    return hazard


def _check_plausible(*, found_on: date | None = None, location=None, **texts) -> None:
    problems = [too_long(Hazard, name, value) for name, value in texts.items()]
    problems += [implausible_day(found_on, "发现日期"), outside_region(location)]
    problems = [p for p in problems if p]
    if problems:
        raise HazardError("implausible", "；".join(problems))


def _require(text: str, code: str, message: str) -> str:
    if not (text or "").strip():
        raise HazardError(code, message)
    return text.strip()


def assign(
    hazard: Hazard,
    *,
    by,
    responsible_person: str,
    responsible_phone: str = "",
    due_on: date | None = None,
    comment: str = "",
) -> Hazard:
    person = _require(responsible_person, "responsible_required", "请填写整改责任人")
    _check_plausible(responsible_person=person, responsible_phone=responsible_phone)

    def change(h: Hazard) -> None:
        if due_on is not None:
            if due_on < h.found_on:
                raise HazardError("invalid_due_date", "整改期限不能早于发现日期")
            h.due_on = due_on
        h.responsible_person, h.responsible_phone = person, responsible_phone

    due = f"，期限 {due_on:%Y-%m-%d}" if due_on else ""
    return _transition(
        hazard, "assign", by=by, comment=f"责任人 {person}{due}" + (f"；{comment}" if comment else ""), change=change
    )


def start_rectification(hazard: Hazard, *, by, comment: str = "") -> Hazard:
    return _transition(hazard, "start", by=by, comment=comment)


def set_rectification_plan(hazard: Hazard, *, by, measures: str, safeguards: str, planned_on: date) -> Hazard:
    measures = _require(measures, "plan_incomplete", "请填写整改措施")
    safeguards = _require(safeguards, "plan_incomplete", "请填写整改期间的临时防范措施")

    def change(h: Hazard) -> None:
        if planned_on < h.found_on:
            raise HazardError("invalid_due_date", "方案完成日期不能早于发现日期")
        h.plan_measures, h.plan_safeguards, h.plan_due_on = measures, safeguards, planned_on
        h.due_on = max(h.due_on, planned_on)

    return _transition(hazard, "plan", by=by, comment=f"方案完成日期 {planned_on:%Y-%m-%d}：{measures}", change=change)


def submit_for_verification(hazard: Hazard, *, by, note: str, after_photos: Iterable[UploadedFile] = ()) -> Hazard:
    note = _require(note, "note_required", "请说明整改情况")

    def change(h: Hazard) -> None:
        _add_photos(h, after_photos, HazardPhoto.Stage.AFTER, by)
        if not h.photos.filter(stage=HazardPhoto.Stage.AFTER).exists():
            raise HazardError("after_photos_required", "提交复查需要上传整改后照片")
        h.rectification_note, h.rectified_on = note, clock.today()

    return _transition(hazard, "submit", by=by, comment=note, change=change)


def rectified(hazard: Hazard, *, by, note: str, after_photos: Iterable[UploadedFile] = ()) -> Hazard:
    """交办、开始整改、提交复查 in one step, for a hazard already fixed: the note and an after-photo are both required,
    and both are asked for at once when missing."""
    after_photos = list(after_photos)
    missing = [
        text for text, absent in (("整改情况说明", not note.strip()), ("整改后照片", not after_photos)) if absent
    ]
    if missing:
        raise HazardError("evidence_required", f"请补充{'和'.join(missing)}后再提交复查")

    def change(h: Hazard) -> None:
        _add_photos(h, after_photos, HazardPhoto.Stage.AFTER, by)
        h.responsible_person = h.responsible_person or _actor_name(by)
        h.rectification_note, h.rectified_on = note.strip(), clock.today()

    return _transition(hazard, "rectified", by=by, comment=note.strip(), change=change)


def verify(hazard: Hazard, *, by, comment: str = "") -> Hazard:
    def change(h: Hazard) -> None:
        h.verified_on, h.verified_by = clock.today(), by

    return _transition(hazard, "verify", by=by, comment=comment, change=change)


def send_back(hazard: Hazard, *, by, comment: str) -> Hazard:
    comment = _require(comment, "comment_required", "退回时请说明原因")

    def change(h: Hazard) -> None:
        h.verified_on = h.verified_by = None

    return _transition(hazard, "send_back", by=by, comment=comment, change=change)


def close_out(hazard: Hazard, *, by, comment: str = "") -> Hazard:
    def change(h: Hazard) -> None:
        h.closed_on = clock.today()

    return _transition(hazard, "close_out", by=by, comment=comment, change=change)


def fix_on_spot(hazard: Hazard, *, by, note: str, evidence: Iterable[UploadedFile] = ()) -> Hazard:
    """即查即改: fixed while the inspector is there; closes in one step with an after-photo as evidence."""
    note = _require(note, "note_required", "请说明现场整改情况")

    def change(h: Hazard) -> None:
        _add_photos(h, evidence, HazardPhoto.Stage.AFTER, by)
        if not h.photos.filter(stage=HazardPhoto.Stage.AFTER).exists():
            raise HazardError("evidence_required", "即查即改需要上传整改后照片作为证据")
        today = clock.today()
        h.rectification_note, h.rectified_on, h.verified_on, h.verified_by, h.closed_on = note, today, today, by, today

    return _transition(hazard, "fix_on_spot", by=by, comment=note, change=change)


def close_unfixed(hazard: Hazard, *, by, comment: str) -> Hazard:
    """An honest state: the case is closed (e.g. the home closed down) but the hazard was never fixed."""
    comment = _require(comment, "comment_required", "请说明未整改即关闭的原因")

    def change(h: Hazard) -> None:
        h.closed_on = clock.today()

    return _transition(hazard, "close_unfixed", by=by, comment=comment, change=change)


def reopen(hazard: Hazard, *, by, comment: str) -> Hazard:
    comment = _require(comment, "comment_required", "请说明重新打开的原因")

    def change(h: Hazard) -> None:
        h.closed_on = h.verified_on = h.verified_by = None

    return _transition(hazard, "reopen", by=by, comment=comment, change=change)


# 挂牌督办


def list_for_supervision(hazard: Hazard, *, by, department: str, deadline: date) -> SupervisionListing:
    if not perms.can_list_for_supervision(by):
        raise HazardError("forbidden", "只有区民政局可以挂牌督办")
    department = _require(department, "department_required", "请填写督办部门")
    with transaction.atomic():
        locked = Hazard.objects.select_for_update().get(pk=hazard.pk)
        if locked.severity != Severity.MAJOR:
            raise HazardError("not_major", "只有重大隐患可以挂牌督办")
        if not locked.is_open:
            raise HazardError("invalid_transition", "已关闭的隐患不能挂牌督办")
        if SupervisionListing.objects.filter(hazard=locked).exists():
            raise HazardError("already_listed", "该隐患已挂牌督办")
        if deadline < clock.today():
            raise HazardError("invalid_due_date", "督办期限不能早于今天")
        listing = SupervisionListing.objects.create(
            hazard=locked, supervising_department=department, listed_on=clock.today(), deadline=deadline, listed_by=by
        )
        _event(
            locked,
            by=by,
            action="挂牌督办",
            from_status=locked.status,
            comment=f"{department}，期限 {deadline:%Y-%m-%d}",
        )
    return listing


def add_supervision_entry(listing: SupervisionListing, *, by, note: str) -> SupervisionEntry:
    if not perms.can_track_supervision(by, listing.hazard):
        raise HazardError("forbidden", "您无权填写督办跟踪记录")
    note = _require(note, "note_required", "请填写督办情况")
    if not listing.is_active:
        raise HazardError("already_delisted", "已摘牌，不能再添加跟踪记录")
    return SupervisionEntry.objects.create(listing=listing, at=clock.now(), by=by, note=note)


def delist(listing: SupervisionListing, *, by, comment: str = "") -> SupervisionListing:
    if not perms.can_list_for_supervision(by):
        raise HazardError("forbidden", "只有区民政局可以摘牌")
    with transaction.atomic():
        locked = SupervisionListing.objects.select_for_update().select_related("hazard").get(pk=listing.pk)
        if not locked.is_active:
            raise HazardError("already_delisted", "该隐患已摘牌")
        if locked.hazard.status != Status.CLOSED:
            raise HazardError("hazard_not_closed", "隐患销号后才能摘牌")
        locked.delisted_on, locked.delisted_by = clock.today(), by
        locked.save()
        _event(locked.hazard, by=by, action="摘牌", from_status=locked.hazard.status, comment=comment)
    return locked


def perform(action: str, hazard: Hazard, *, by, data: dict, photos=()) -> Hazard:
    """One lifecycle step by its name (the web form and the API share it); `data` holds the step's fields."""
    if action not in RULES:
        raise HazardError("unknown_action", f"未知的操作 {action}")
    comment = data.get("comment", "")
    if action == "assign":
        return assign(
            hazard,
            by=by,
            responsible_person=data.get("responsible_person", ""),
            responsible_phone=data.get("responsible_phone", ""),
            due_on=data.get("due_on"),
            comment=comment,
        )
    if action == "plan":
        if data.get("planned_on") is None:
            raise HazardError("plan_incomplete", "请填写方案完成日期")
        return set_rectification_plan(
            hazard,
            by=by,
            measures=data.get("measures", ""),
            safeguards=data.get("safeguards", ""),
            planned_on=data["planned_on"],
        )
    if action == "submit":
        return submit_for_verification(hazard, by=by, note=comment, after_photos=photos)
    if action == "fix_on_spot":
        return fix_on_spot(hazard, by=by, note=comment, evidence=photos)
    if action == "rectified":
        return rectified(hazard, by=by, note=comment, after_photos=photos)
    simple = {
        "start": start_rectification,
        "verify": verify,
        "send_back": send_back,
        "close_out": close_out,
        "close_unfixed": close_unfixed,
        "reopen": reopen,
    }
    return simple[action](hazard, by=by, comment=comment)
