import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import IntegrityError, transaction

from gis_app.carehomes.importers.subdistricts import reassign_care_homes
from gis_app.carehomes.models import CareHome, Subdistrict

from .conftest import make_credit_code


def test_the_demo_registry_has_the_21_subdistricts_of_binhai(db):
    assert Subdistrict.objects.count() == 21
    assert Subdistrict.objects.filter(kind="town").count() == 5
    assert set(Subdistrict.objects.values_list("code", flat=True)) >= {"120116001", "120116158"}
    assert all(s.boundary.valid for s in Subdistrict.objects.all())
    assert not Subdistrict.objects.filter(boundary_is_approximate=False).exists()


def test_demo_subdistricts_do_not_overlap(db):
    subs = list(Subdistrict.objects.all())
    for i, a in enumerate(subs):
        for b in subs[i + 1 :]:
            assert a.boundary.intersection(b.boundary).area < 1e-9, (a.name, b.name)


def test_every_demo_home_lies_in_a_subdistrict_and_is_marked_demo(db):
    assert CareHome.objects.filter(is_demo=True).count() == 100
    assert not CareHome.objects.filter(subdistrict=None).exists()


def test_a_home_is_placed_in_its_subdistrict_by_its_location(make_home, tanggu, hangu):
    home = make_home(tanggu)
    assert home.subdistrict == tanggu
    home.location = hangu.boundary.point_on_surface
    home.save()
    home.refresh_from_db()
    assert home.subdistrict == hangu


def test_a_home_outside_every_subdistrict_has_none(make_home, tanggu):
    home = make_home(tanggu, location=Point(116.0, 40.0, srid=4326))
    assert home.subdistrict is None


def test_homes_are_reassigned_when_boundaries_change(make_home, tanggu, hangu):
    home = make_home(tanggu)
    # Give Hangu's boundary a piece that covers the home; the lowest code no longer wins alone.
    tanggu.boundary = MultiPolygon(Polygon.from_bbox((0, 0, 1, 1)), srid=4326)
    tanggu.save()
    hangu.boundary = MultiPolygon(*hangu.boundary, home.location.buffer(0.001), srid=4326)
    hangu.save()
    assert reassign_care_homes() >= 1
    home.refresh_from_db()
    assert home.subdistrict == hangu
    assert reassign_care_homes() == 0  # idempotent


def test_credit_code_is_unique(make_home, tanggu):
    home = make_home(tanggu)
    with pytest.raises(IntegrityError), transaction.atomic():
        CareHome.objects.create(name="重复", credit_code=home.credit_code, address="x", location=home.location)


def test_full_care_residents_cannot_exceed_residents(tanggu):
    with pytest.raises(IntegrityError), transaction.atomic():
        CareHome.objects.create(
            name="x", credit_code=make_credit_code(1), address="x", location=tanggu.boundary.point_on_surface,
            residents=10, residents_full_care=11,
        )  # fmt: skip


def test_credit_code_validator_runs_in_full_clean(tanggu):
    from django.core.exceptions import ValidationError

    home = CareHome(name="x", credit_code="52120116000000001X", address="x", location=tanggu.boundary.point_on_surface)
    with pytest.raises(ValidationError, match="校验位"):
        home.full_clean()
