"""Recording an inspection: validated as a whole, then written in one transaction in which every failed item becomes
a hazard in the ledger, pre-filled from the item (key place, major-hazard criterion, photo)."""

from dataclasses import dataclass, field
from datetime import date

from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from gis_app.carehomes.models import CareHome, Role
from gis_app.carehomes.scope import role_of, visible_carehomes
from gis_app.hazards.models import Category, Severity
from gis_app.hazards.services import report_hazard
from gis_app.lib import clock
from gis_app.lib.validation import implausible_day, outside_region, too_long
from gis_app.risk.services import request_recompute

from .models import ChecklistVersion, CheckResult, Inspection, InspectionKind, Inspector

# Which roles may record which kind of inspection.
KINDS_BY_ROLE = {
    Role.BUREAU: {InspectionKind.PATROL, InspectionKind.JOINT, InspectionKind.COVERT},
    Role.FIRE_RESCUE: {InspectionKind.JOINT, InspectionKind.COVERT},
    Role.SUBDISTRICT: {InspectionKind.PATROL},
    Role.CARE_HOME: {InspectionKind.SELF_CHECK},
    Role.THIRD_PARTY: {InspectionKind.THIRD_PARTY},
}
CATEGORY_BY_KEY_PLACE = {
    "electrical": Category.ELECTRICAL, "ebike": Category.EBIKE, "fire_lane": Category.FIRE_LANE,
    "exits": Category.EXITS, "equipment": Category.EQUIPMENT, "facilities": Category.EQUIPMENT,
    "storeroom": Category.FLAMMABLES, "kitchen": Category.OPEN_FLAME, "control_room": Category.CONTROL_ROOM,
    "rules": Category.MANAGEMENT, "training": Category.TRAINING, "building": Category.BUILDING,
}  # fmt: skip


class InspectionError(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class ItemAnswer:
    item_code: str
    result: str
    note: str = ""
    photo: UploadedFile | None = None
    lon: float | None = None
    lat: float | None = None


@dataclass
class InspectorEntry:
    name: str
    organisation: str = ""


@dataclass
class InspectionInput:
    care_home: CareHome
    kind: str
    inspected_on: date
    signed_by_name: str
    answers: list[ItemAnswer]
    frequency: str | None = None
    inspectors: list[InspectorEntry] = field(default_factory=list)
    note: str = ""
    uuid: str | None = None


def allowed_kinds(user) -> set[str]:
    return KINDS_BY_ROLE.get(role_of(user), set())


def items_for(version: ChecklistVersion, frequency: str | None):
    items = version.items.select_related("key_place", "major_criterion")
    return items.filter(frequency=frequency) if frequency else items


def record_inspection(data: InspectionInput, *, by) -> Inspection:
    """Records an inspection, its results and the hazards of failed items, all or nothing. With a uuid (from the
    field, or an idempotency key) a repeat returns the inspection already recorded instead of a second one, even when
    both arrive at once: the unique uuid admits one; the other waits for it and returns it (inspection.replayed)."""
    errors: dict[str, str] = {}
    if not visible_carehomes(by).filter(pk=data.care_home.pk).exists():
        raise InspectionError({"care_home": "您无权检查该养老机构"})
    if data.uuid:
        earlier = _earlier(data)
        if earlier is not None:
            return earlier
    try:
        return _record(data, by=by, errors=errors)
    except IntegrityError:
        earlier = _earlier(data) if data.uuid else None
        if earlier is None:
            raise
        return earlier


def _earlier(data: InspectionInput) -> Inspection | None:
    earlier = Inspection.objects.filter(uuid=data.uuid).first()
    if earlier is None:
        return None
    if earlier.care_home_id != data.care_home.pk:
        raise InspectionError({"uuid": "该提交编号已用于另一家养老机构的检查"})
    earlier.replayed = True
    return earlier


def _record(data: InspectionInput, *, by, errors: dict[str, str]) -> Inspection:
    if data.kind not in allowed_kinds(by):
        errors["kind"] = "您的角色不能录入此类检查"
    if data.kind == InspectionKind.SELF_CHECK and not data.frequency:
        errors["frequency"] = "自查必须选择频次"
    if data.inspected_on > clock.today():
        errors["inspected_on"] = "检查日期不能晚于今天"
    if not data.signed_by_name.strip():
        errors["signed_by_name"] = "请签字（填写姓名）"
    for key, problem in {
        "signed_by_name": too_long(Inspection, "signed_by_name", data.signed_by_name.strip()),
        "note": too_long(Inspection, "note", data.note),
        "inspected_on": implausible_day(data.inspected_on, "检查日期"),
        **{
            f"inspectors.{i}": too_long(Inspector, "name", p.name)
            or too_long(Inspector, "organisation", p.organisation)
            for i, p in enumerate(data.inspectors)
        },
    }.items():
        if problem:
            errors[key] = problem
    version = ChecklistVersion.in_force(data.inspected_on)
    if version is None:
        raise InspectionError({"version": "检查日期没有适用的检查表版本"})
    items = {i.code: i for i in items_for(version, data.frequency)}
    if not data.answers:
        errors["answers"] = "没有任何检查结果"
    seen = set()
    for answer in data.answers:
        key = f"item:{answer.item_code}"
        if answer.item_code not in items:
            errors[key] = "不在本次检查表中"
        elif answer.item_code in seen:
            errors[key] = "重复填写"
        elif answer.result not in CheckResult.Result.values:
            errors[key] = "结果应为合格、不合格或不适用"
        elif answer.result == CheckResult.Result.FAIL and not answer.note.strip():
            errors[key] = "不合格项请说明问题"
        elif (answer.lon is None) != (answer.lat is None):
            errors[key] = "位置需要同时填写经度和纬度"
        elif problem := too_long(CheckResult, "note", answer.note):
            errors[key] = problem
        elif answer.lon is not None and (problem := outside_region(Point(answer.lon, answer.lat, srid=4326))):
            errors[key] = problem
        seen.add(answer.item_code)
    if errors:
        raise InspectionError(errors)

    with transaction.atomic():
        inspection = Inspection.objects.create(
            care_home=data.care_home, kind=data.kind, frequency=data.frequency, version=version,
            inspected_on=data.inspected_on, note=data.note, signed_by_name=data.signed_by_name.strip(),
            signed_at=clock.now(), created_by=by, uuid=data.uuid,
        )  # fmt: skip
        Inspector.objects.bulk_create(
            [
                Inspector(inspection=inspection, name=i.name, organisation=i.organisation)
                for i in data.inspectors
                if i.name.strip()
            ]
            or [Inspector(inspection=inspection, user=by, name=data.signed_by_name.strip())]
        )
        for answer in data.answers:
            item = items[answer.item_code]
            location = Point(answer.lon, answer.lat, srid=4326) if answer.lon is not None else None
            result = CheckResult.objects.create(
                inspection=inspection, care_home=data.care_home, item=item, result=answer.result,
                note=answer.note.strip(), location=location, photo=answer.photo,
            )  # fmt: skip
            if answer.result == CheckResult.Result.FAIL:
                major = item.major_criterion is not None
                report_hazard(
                    care_home=data.care_home, by=by, check_permission=False, inspection=inspection,
                    check_result=result, key_place=item.key_place, location=location,
                    category=CATEGORY_BY_KEY_PLACE.get(item.key_place.code, Category.OTHER),
                    # The finding, as the inspector wrote it, at its key place. (Prefixing the item's pass criterion
                    # read as a contradiction: "通道畅通，无占用：通道被占用"; the failed item is kept with the result.)
                    description=f"{item.key_place.name}：{answer.note.strip()}", found_on=data.inspected_on,
                    severity=Severity.MAJOR if major else Severity.GENERAL, criterion=item.major_criterion,
                    photos=[answer.photo] if answer.photo else (),
                )  # fmt: skip
        request_recompute()
    return inspection
