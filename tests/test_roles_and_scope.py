"""The role matrix: every role against every kind of object, on pages, the API and the admin."""

import pytest
from django.urls import reverse

from gis_app.carehomes.permissions import can_edit_carehome, can_import_carehomes
from gis_app.carehomes.scope import visible_carehomes, visible_subdistricts

# role -> (sees home_a in 塘沽 contracted to the provider, sees home_b in 汉沽, 街镇 visible)
EXPECTED = {
    "bureau": (True, True, "all"),
    "fire_rescue": (True, True, "all"),
    "subdistrict": (True, False, {"120116001"}),
    "care_home": (True, False, {"120116001"}),
    "other_home": (False, True, {"120116031"}),
    "third_party": (True, False, {"120116001"}),
    "no_role": (False, False, set()),
}


@pytest.mark.parametrize("role", EXPECTED)
def test_scope_querysets(world, role):
    user = world["users"][role]
    sees_a, sees_b, subs = EXPECTED[role]
    homes = visible_carehomes(user)
    assert homes.filter(pk=world["home_a"].pk).exists() == sees_a
    assert homes.filter(pk=world["home_b"].pk).exists() == sees_b
    codes = set(visible_subdistricts(user).values_list("code", flat=True))
    assert len(codes) == 21 if subs == "all" else codes == subs


@pytest.mark.parametrize("role", EXPECTED)
def test_home_pages_and_api_follow_the_scope(client, world, role):
    client.force_login(world["users"][role])
    sees_a, sees_b, _ = EXPECTED[role]
    for home, sees in ((world["home_a"], sees_a), (world["home_b"], sees_b)):
        page = client.get(reverse("carehome-detail", args=[home.pk]))
        assert page.status_code == (200 if sees else 404)
        api = client.get(f"/api/carehomes/{home.pk}/")
        assert api.status_code == (200 if sees else 404)
    listing = client.get(reverse("carehome-list") + "?q=测试养老院").content.decode()
    assert (world["home_a"].name in listing) == sees_a
    assert (world["home_b"].name in listing) == sees_b
    map_page = client.get(reverse("map")).content.decode()
    assert (world["home_a"].name in map_page) == sees_a
    assert (world["home_b"].name in map_page) == sees_b


@pytest.mark.parametrize("role", EXPECTED)
def test_api_lists_only_the_scope(client, world, role):
    client.force_login(world["users"][role])
    ids = {f["id"] for f in client.get("/api/carehomes/?page_size=1000").json()["features"]}
    sees_a, sees_b, subs = EXPECTED[role]
    assert (world["home_a"].pk in ids) == sees_a
    assert (world["home_b"].pk in ids) == sees_b
    codes = {f["properties"]["code"] for f in client.get("/api/subdistricts/").json()["features"]}
    assert len(codes) == 21 if subs == "all" else codes == subs


def test_a_care_home_cannot_guess_another_homes_id(client, world):
    client.force_login(world["users"]["care_home"])
    for pk in (world["home_b"].pk, world["home_b"].pk + 1000):
        assert client.get(reverse("carehome-detail", args=[pk])).status_code == 404
        assert client.get(f"/api/carehomes/{pk}/").status_code == 404


@pytest.mark.parametrize(
    ("role", "edit_a", "edit_b", "imports"),
    [
        ("bureau", True, True, True),
        ("fire_rescue", False, False, False),
        ("subdistrict", True, False, False),
        ("care_home", True, False, False),
        ("third_party", False, False, False),
        ("no_role", False, False, False),
    ],
)
def test_who_may_edit_and_import(world, role, edit_a, edit_b, imports):
    user = world["users"][role]
    assert can_edit_carehome(user, world["home_a"]) == edit_a
    assert can_edit_carehome(user, world["home_b"]) == edit_b
    assert can_import_carehomes(user) == imports


@pytest.mark.parametrize("role", ["fire_rescue", "subdistrict", "care_home", "third_party", "no_role"])
def test_only_the_bureau_reaches_the_import_page(client, world, role):
    client.force_login(world["users"][role])
    assert client.get(reverse("carehome-import")).status_code == 403


def test_anonymous_users_are_sent_to_login_and_get_401_from_the_api(client, world):
    for name, args in (("map", []), ("carehome-list", []), ("carehome-detail", [world["home_a"].pk])):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for url in ("/api/carehomes/", "/api/subdistricts/", f"/api/carehomes/{world['home_a'].pk}/"):
        response = client.get(url)
        assert response.status_code == 401
        assert "features" not in response.json()


def test_admin_lists_only_the_scope_for_a_staff_street_office(client, world):
    street = world["users"]["subdistrict"]
    street.is_staff = True
    street.save()
    from django.contrib.auth.models import Permission

    street.user_permissions.set(
        Permission.objects.filter(codename__in=["view_carehome", "change_carehome", "view_subdistrict"])
    )
    client.force_login(street)
    listing = client.get("/admin/carehomes/carehome/?q=测试养老院").content.decode()
    assert world["home_a"].name in listing and world["home_b"].name not in listing
    assert client.get(f"/admin/carehomes/carehome/{world['home_b'].pk}/change/").status_code in (302, 404)
    subs = client.get("/admin/carehomes/subdistrict/").content.decode()
    assert "塘沽街道" in subs and "汉沽街道" not in subs


def test_bureau_admin_has_map_widgets_served_locally(client, world):
    client.force_login(world["users"]["bureau"])
    world["users"]["bureau"].is_staff = world["users"]["bureau"].is_superuser = True
    world["users"]["bureau"].save()
    page = client.get(f"/admin/carehomes/carehome/{world['home_a'].pk}/change/").content.decode()
    assert "leaflet/leaflet.js" in page
    assert "cdn" not in page.lower() and "openlayers" not in page.lower()


def test_a_national_scale_map_embeds_no_homes_but_fetches_those_in_view(client, world, monkeypatch):
    from gis_app.carehomes import maps

    client.force_login(world["users"]["bureau"])
    assert "carehome-marker" in client.get(reverse("map")).content.decode()
    monkeypatch.setattr(maps, "EMBED_LIMIT", 10)
    page = client.get(reverse("map")).content.decode()
    assert world["home_a"].name not in page and "homes_in_view.js" in page and 'id="zoom-hint"' in page


def test_ledger_and_layer_admin_are_read_only_and_scoped(client, world):
    from gis_app.hazards.services import report_hazard

    h = report_hazard(care_home=world["home_b"], description="后台只读", by=world["users"]["bureau"])
    street = world["users"]["subdistrict"]
    street.is_staff = True
    street.save()
    from django.contrib.auth.models import Permission

    street.user_permissions.set(
        Permission.objects.filter(codename__in=["view_hazard", "change_hazard", "view_safetyexit"])
    )
    client.force_login(street)
    assert "后台只读" not in client.get("/admin/hazards/hazard/").content.decode()
    assert client.get(f"/admin/hazards/hazard/{h.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/layers/safetyexit/").status_code == 200
    client.force_login(world["users"]["bureau"])
    bureau = world["users"]["bureau"]
    bureau.is_staff = bureau.is_superuser = True
    bureau.save()
    page = client.get(f"/admin/hazards/hazard/{h.pk}/change/").content.decode()
    assert "后台只读" in page and 'name="_save"' not in page
