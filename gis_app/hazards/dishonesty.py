"""失信联合惩戒: the platform proposes candidates; the bureau decides, with a basis, a listing date and a removal date;
a written notice to the relevant departments is generated."""

from dataclasses import dataclass
from datetime import date

from django.db import transaction

from gis_app.carehomes.models import Role
from gis_app.carehomes.scope import role_of
from gis_app.lib import clock

from .models import AccidentResponsibility, DishonestyListEntry, Hazard
from .services import HazardError

DEFAULT_LISTING_YEARS = 3  # *(unconfirmed)*: the bureau sets the removal date per entry


@dataclass
class Candidate:
    kind: str  # "hazard" | "accident"
    care_home: object
    person_name: str
    basis: str
    hazard: Hazard | None = None
    responsibility: AccidentResponsibility | None = None


def candidates(today: date | None = None) -> list[Candidate]:
    """Homes with a major hazard left unfixed past its deadline without an accepted reason; persons mainly or directly
    responsible for an accident who were punished by the competent department. Those already listed are left out."""
    today = today or clock.today()
    listed_hazards = set(
        DishonestyListEntry.objects.current(today).exclude(hazard=None).values_list("hazard_id", flat=True)
    )
    listed_people = set(
        DishonestyListEntry.objects.current(today)
        .exclude(responsibility=None)
        .values_list("responsibility_id", flat=True)
    )
    out = []
    overdue = (
        Hazard.objects.overdue(today).major().filter(delay_reason_accepted=False).select_related("care_home", "criterion")
        .order_by("due_on")
    )  # fmt: skip
    for h in overdue:
        if h.pk in listed_hazards:
            continue
        days = (today - h.due_on).days
        out.append(Candidate("hazard", h.care_home, "", hazard=h, basis=(
            f"重大火灾隐患（{h.criterion.code if h.criterion else '—'}）“{h.description[:60]}”整改期限为 {h.due_on:%Y-%m-%d}，"
            f"逾期 {days} 天仍未整改" + (f"，所述理由“{h.delay_reason[:40]}”未被认可" if h.delay_reason else "，且无正当理由")
        )))  # fmt: skip
    people = AccidentResponsibility.objects.exclude(punished_on=None).select_related("accident__care_home")
    for r in people:
        if r.pk in listed_people:
            continue
        a = r.accident
        out.append(Candidate("accident", a.care_home, r.person_name, responsibility=r, basis=(
            f"{a.occurred_on:%Y-%m-%d} {a.care_home.name} 火灾事故（{a.description[:40]}）的{r.get_degree_display()}人，"
            f"已于 {r.punished_on:%Y-%m-%d} 受到主管部门处罚"
        )))  # fmt: skip
    return out


def list_entry(
    *, by, candidate: Candidate, removal_on: date, listed_on: date | None = None, basis: str = ""
) -> DishonestyListEntry:
    if role_of(by) != Role.BUREAU:
        raise HazardError("forbidden", "只有区民政局可以决定列入失信联合惩戒名单")
    listed_on = listed_on or clock.today()
    if removal_on <= listed_on:
        raise HazardError("invalid_due_date", "移出日期应晚于列入日期")
    with transaction.atomic():
        entry = DishonestyListEntry.objects.create(
            subject=DishonestyListEntry.Subject.PERSON if candidate.person_name else DishonestyListEntry.Subject.CARE_HOME,
            care_home=candidate.care_home, person_name=candidate.person_name, hazard=candidate.hazard,
            responsibility=candidate.responsibility, basis=(basis or candidate.basis).strip(), listed_on=listed_on,
            removal_on=removal_on, decided_by=by,
        )  # fmt: skip
    return entry


def remove_entry(entry: DishonestyListEntry, *, by, on: date | None = None) -> DishonestyListEntry:
    if role_of(by) != Role.BUREAU:
        raise HazardError("forbidden", "只有区民政局可以移出名单")
    if entry.removed_on is not None:
        raise HazardError("already_removed", "该条目已移出")
    entry.removed_on = on or clock.today()
    entry.save(update_fields=["removed_on"])
    return entry
