"""Star rating on hand-checked cases (caps and vetoes), the self-assess/review workflow, drills, the annual assessment."""

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from gis_app.hazards import services as hazard_services
from gis_app.hazards.services import HazardError
from gis_app.inspections.models import Criterion
from gis_app.rating import services
from gis_app.rating.models import DrillRecord, StarAssessment
from gis_app.rating.scoring import compute, items, load_default_rubric, suggested_deductions

SPEC = {
    "total": 1000,
    "thresholds": [[900, 5], [800, 4], [700, 3], [600, 2], [0, 1]],
    "categories": [
        {"code": "a", "label": "A", "cap": 100, "items": [{"code": "a1", "label": "a1", "max": 80}, {"code": "a2", "label": "a2", "max": 80}]},
        {"code": "b", "label": "B", "cap": 300, "items": [{"code": "b1", "label": "b1", "max": 300}]},
    ],
    "vetoes": [{"code": "open_major", "label": "重大隐患", "effect": "cap", "stars": 1},
               {"code": "dishonesty", "label": "失信", "effect": "bar"}],
}  # fmt: skip


def test_item_and_category_caps():
    r = compute(SPEC, {"a1": 200, "a2": 50}, {})
    # a1 capped at 80, + a2 50 = 130, category capped at 100
    assert r["categories"][0]["deducted"] == 100 and r["score"] == 900 and r["stars"] == 5


def test_thresholds_and_negative_input():
    assert compute(SPEC, {"b1": 150}, {})["stars"] == 4  # 850
    assert compute(SPEC, {"b1": 300, "a1": 80}, {})["score"] == 620
    assert compute(SPEC, {"a1": -50}, {})["score"] == 1000


def test_vetoes():
    capped = compute(SPEC, {}, {"open_major": 1})
    assert capped["score"] == 1000 and capped["stars"] == 1 and capped["vetoes"] == ["重大隐患"]
    barred = compute(SPEC, {}, {"dishonesty": True})
    assert barred["stars"] is None


def test_the_default_rubric_totals_1000_and_platform_suggestions(db):
    rubric = load_default_rubric()
    assert rubric.is_default and sum(c["cap"] for c in rubric.spec["categories"]) == 1000
    s = suggested_deductions(rubric.spec, {"missed_checks": 7, "overdue_hazards": 10, "failed_items": 2, "drills_held": 1,
                                           "trainings_held": 0})  # fmt: skip
    assert s == {"self_checks": 7, "rectification": 120, "equipment": 10, "training": 75, "drill": 38}


def test_self_assessment_then_review_with_a_veto(world, clock_at):
    clock_at(date(2026, 11, 30))
    load_default_rubric()
    home, bureau, staff = world["home_a"], world["users"]["bureau"], world["users"]["care_home"]
    with pytest.raises(HazardError) as err:
        services.self_assess(home, by=world["users"]["other_home"], deductions={})
    assert err.value.code == "forbidden"
    with pytest.raises(HazardError, match="扣分应在"):
        services.self_assess(home, by=staff, deductions={"owner": 999})
    a = services.self_assess(home, by=staff, deductions={"owner": 10, "drill": 20}, note="自评")
    assert a.status == "self_assessed" and a.score is None
    with pytest.raises(HazardError):
        services.review(a, by=staff, deductions={})
    hazard_services.report_hazard(care_home=home, description="x", by=bureau, severity="major",
                                  criterion=Criterion.objects.get(code="MCA2023-2-5"))  # fmt: skip
    with pytest.raises(HazardError) as err:  # an untouched review form: nothing scored, nothing published
        services.review(a, by=bureau, deductions={"owner": "", "drill": "40"})
    assert err.value.code == "review_incomplete" and "逐项评分" in err.value.message
    a.refresh_from_db()
    assert a.status == "self_assessed" and services.current_rating(home) is None
    every = {i["code"]: 0 for i in items(a.rubric.spec)}
    a = services.review(a, by=bureau, deductions={**every, "owner": 10, "drill": 40})
    assert a.status == "reviewed" and a.score == 950 and a.stars == 1 and "存在未销号的重大火灾隐患" in a.vetoes
    assert a.valid_until == date(2026, 11, 30) + timedelta(days=365) and a.platform_facts["open_major"] == 1
    with pytest.raises(HazardError) as err:
        services.self_assess(home, by=staff, deductions={})
    assert err.value.code == "already_reviewed"
    assert services.current_rating(home) == a
    assert services.current_rating(home, date(2028, 1, 1)) is None


def test_rating_page_permissions_and_drills(client, world):
    load_default_rubric()
    home = world["home_a"]
    client.force_login(world["users"]["care_home"])
    page = client.get(f"/carehomes/{home.pk}/rating/").content.decode()
    assert "提交自评" in page and "平台建议" in page
    client.post(f"/carehomes/{home.pk}/rating/", {"action": "self", "d_owner": "5"})
    assert StarAssessment.objects.get(care_home=home).self_deductions["owner"] == 5
    client.post(f"/carehomes/{home.pk}/drills/", {"held_on": date.today().isoformat(), "kind": "evacuation", "participants": 30,
                                                  "content": "夜间疏散演练", "first_response_1min": "true"})  # fmt: skip
    assert DrillRecord.objects.get(care_home=home).first_response_1min is True
    r = client.post(
        f"/carehomes/{home.pk}/drills/",
        {"held_on": "2099-01-01", "kind": "training", "participants": 3, "content": "x"},
    )
    assert "日期不能晚于今天" in r.content.decode()
    client.force_login(world["users"]["fire_rescue"])
    assert client.post(f"/carehomes/{home.pk}/drills/", {"held_on": "2026-01-01", "kind": "training", "participants": 3,
                                                         "content": "x"}).status_code == 403  # fmt: skip
    client.force_login(world["users"]["other_home"])
    assert client.get(f"/carehomes/{home.pk}/rating/").status_code == 404
    client.force_login(world["users"]["bureau"])
    partial = client.post(f"/carehomes/{home.pk}/rating/", {"action": "review", "d_owner": "5"}, follow=True)
    assert "审核须逐项评分" in partial.content.decode() and StarAssessment.objects.get(care_home=home).stars is None
    assert "★★★★★" not in client.get(f"/public/?q={home.name}").content.decode()
    every = {f"d_{i['code']}": "0" for i in items(StarAssessment.objects.get(care_home=home).rubric.spec)}
    client.post(f"/carehomes/{home.pk}/rating/", {"action": "review", **every, "d_owner": "5"})
    assert StarAssessment.objects.get(care_home=home).stars == 5
    client.logout()
    assert "★★★★★" in client.get(f"/public/?q={home.name}").content.decode()


def test_annual_assessment_page_and_excel(client, world):
    year = date.today().year
    DrillRecord.objects.create(
        care_home=world["home_a"], held_on=date(year, 1, 5), kind="training", participants=10, content="x"
    )
    hazard_services.report_hazard(
        care_home=world["home_a"], description="x", by=world["users"]["bureau"], found_on=date(year, 1, 6)
    )
    client.force_login(world["users"]["subdistrict"])
    page = client.get(f"/annual/?year={year}").content.decode()
    assert world["home_a"].name in page and world["home_b"].name not in page
    wb = load_workbook(io.BytesIO(client.get(f"/annual/?year={year}&format=xlsx").content))
    ws = wb["按养老机构"]
    row = next(r for r in ws.iter_rows(min_row=3, values_only=True) if r[0] == world["home_a"].name)
    assert row[1] == "塘沽街道" and row[4] >= 1 and row[10] == 1 and row[11] == "未评定"
    assert wb["按街镇"]["A3"].value == "塘沽街道"


def test_drill_attachments_are_allowlisted_by_content_and_served_only_within_scope(world, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from gis_app.rating.models import DrillRecord

    home = world["home_a"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["users"]["care_home"])
    url = f"/carehomes/{home.pk}/drills/"
    client.get(url)
    form = {
        "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        "held_on": "2026-11-01",
        "kind": "evacuation",
        "participants": 12,
        "content": "夜间疏散演练",
    }
    disguised = SimpleUploadedFile(
        "方案.pdf", b"<html><script>alert(1)</script></html>", content_type="application/pdf"
    )
    refused = client.post(url, {**form, "attachment": disguised})
    assert refused.status_code == 200 and "附件类型不支持" in refused.content.decode()
    assert not DrillRecord.objects.filter(care_home=home).exists()
    pdf = SimpleUploadedFile(
        "方案.pdf",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        content_type="application/pdf",
    )
    assert client.post(url, {**form, "attachment": pdf}).status_code == 302
    record = DrillRecord.objects.get(care_home=home)
    page = client.get(url).content.decode()
    assert record.attachment.url in page
    download = client.get(record.attachment.url)
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    other = Client()
    other.force_login(world["users"]["other_home"])
    assert other.get(record.attachment.url).status_code == 404
    street = Client()
    street.force_login(world["users"]["subdistrict"])
    assert street.get(record.attachment.url).status_code == 200


def test_a_feature_photo_is_served_to_those_who_see_the_home(world, photo):
    from django.test import Client

    from layers.models import FeaturePhoto

    home = world["home_a"]
    fp = FeaturePhoto.objects.create(
        layer="safety_exit",
        feature_uuid="00000000-0000-0000-0000-000000000001",
        care_home=home,
        image=photo("exit.png"),
    )
    mine, other = Client(), Client()
    mine.force_login(world["users"]["care_home"])
    other.force_login(world["users"]["other_home"])
    assert mine.get(fp.image.url).status_code == 200
    assert other.get(fp.image.url).status_code == 404


def test_the_annual_assessment_is_paged_with_the_summary_over_all_homes(client, world, monkeypatch):
    from gis_app.rating import views

    monkeypatch.setattr(views, "ANNUAL_PAGE", 1)
    client.force_login(world["users"]["bureau"])
    first, second = client.get("/annual/"), client.get("/annual/?page=2")
    assert len(first.context["rows"]) == len(second.context["rows"]) == 1
    assert first.context["rows"][0]["home"] != second.context["rows"][0]["home"]
    total = first.context["homes_total"]
    assert total >= 2 and sum(s["homes"] for s in first.context["subs"]) == total
    assert f"第 1 / {total} 页" in first.content.decode()
