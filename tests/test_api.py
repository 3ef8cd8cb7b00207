from django.core.management import call_command

from gis_app.carehomes.models import ApiToken
from gis_app.carehomes.tokens import issue


def test_token_authentication_for_qgis_and_scripts(client, world, capsys):
    call_command("create_api_token", "t_street")
    key = capsys.readouterr().out.strip()
    stored = ApiToken.objects.get(user__username="t_street")
    assert key.startswith(stored.prefix) and key not in (stored.key_hash, stored.prefix)  # only the hash is kept
    response = client.get("/api/carehomes/?page_size=1000", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert {f["properties"]["subdistrict_code"] for f in response.json()["features"]} == {"120116001"}
    assert client.get("/api/carehomes/", HTTP_AUTHORIZATION="Token wrong").status_code == 401


def test_tokens_expire_are_revoked_and_die_with_a_password_change(client, world, capsys):
    from datetime import timedelta

    from django.utils import timezone

    user = world["users"]["subdistrict"]
    _, key = issue(user)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.get("/api/carehomes/", **auth).status_code == 200
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/carehomes/", **auth).status_code == 401
    _, key = issue(user)
    call_command("create_api_token", user.username, "--revoke-all")
    assert client.get("/api/carehomes/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    _, key = issue(user)
    user.set_password("Xin-Mima-2026!")
    user.save()
    response = client.get("/api/carehomes/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401 and "修改密码" in response.json()["detail"]


def test_desktop_gis_signs_in_with_basic_and_a_token_never_the_password(client, world):
    import base64

    user = world["users"]["subdistrict"]
    _, key = issue(user, purpose="gis")

    def basic(name, secret):
        return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()}

    anonymous = client.get("/ogc/collections/safety_exit/items")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic realm=")
    assert client.get("/ogc/collections/safety_exit/items", **basic(user.username, key)).status_code == 200
    assert client.get("/ogc/collections/safety_exit/items", **basic(user.username, "pw-test-12345")).status_code == 401
    assert client.get("/ogc/collections/safety_exit/items", **basic("t_bureau", key)).status_code == 401
    assert client.get("/ogc", **basic(user.username, key)).status_code == 200  # no redirect for QGIS 3.22


def test_responses_are_geojson_in_wgs84(admin_client, world):
    data = admin_client.get(f"/api/carehomes/{world['home_a'].pk}/").json()
    assert data["type"] == "Feature" and data["geometry"]["type"] == "Point"
    lon, lat = data["geometry"]["coordinates"]
    assert 117 < lon < 118.1 and 38.5 < lat < 39.5
    assert data["properties"]["subdistrict_code"] == "120116001"


def test_bbox_filter(admin_client, world):
    home = world["home_b"]
    x, y = home.location.x, home.location.y
    inside = admin_client.get(f"/api/carehomes/?bbox={x - 0.0001},{y - 0.0001},{x + 0.0001},{y + 0.0001}").json()
    assert [f["id"] for f in inside["features"]] == [home.pk]
    for bad in ("1,2,3", "a,b,c,d", "118,39,117,40", "0,-91,1,1"):
        response = admin_client.get(f"/api/carehomes/?bbox={bad}")
        assert response.status_code == 400 and "bbox" in response.json()


def test_subdistrict_and_status_filters(admin_client, world):
    data = admin_client.get("/api/carehomes/?subdistrict=120116031&page_size=1000").json()
    assert data["features"] and all(f["properties"]["subdistrict_code"] == "120116031" for f in data["features"])
    assert admin_client.get("/api/carehomes/?subdistrict=汉沽").status_code == 400
    assert admin_client.get("/api/carehomes/?status=open").status_code == 400
    suspended = admin_client.get("/api/carehomes/?status=suspended&page_size=1000").json()
    assert all(f["properties"]["status"] == "suspended" for f in suspended["features"])


def test_pagination(admin_client, world):
    first = admin_client.get("/api/carehomes/?page_size=10").json()
    assert first["count"] == 102 and len(first["features"]) == 10 and first["next"]
    second = admin_client.get(first["next"]).json()
    assert not {f["id"] for f in first["features"]} & {f["id"] for f in second["features"]}


def test_subdistricts_endpoint_carries_boundaries_and_the_approximate_flag(admin_client, db):
    data = admin_client.get("/api/subdistricts/").json()
    assert data["count"] == 21
    feature = data["features"][0]
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["boundary_is_approximate"] is True


def test_openapi_schema_is_served_and_lists_every_api(admin_client, db):
    response = admin_client.get("/api/schema/")
    assert response.status_code == 200
    for path in (b"/api/carehomes/", b"/api/layers/{layer}/", b"/ogc/collections/{collection}/items", b"/api/hazards/",
                 b"/api/inspections/", b"/api/risk/subdistricts/", b"/tiles/{layer}/{z}/{x}/{y}.pbf"):  # fmt: skip
        assert path in response.content, path


def test_healthz_reports_postgis(client, db):
    data = client.get("/healthz").json()
    assert data["database"] == "ok" and data["postgis"].startswith("3.")


def test_healthz_is_503_with_the_reason_when_the_database_fails(client, db, monkeypatch):
    import gis_app.views

    def broken():
        raise RuntimeError("connection refused")

    monkeypatch.setattr(gis_app.views, "postgis_version", broken)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json() == {"database": "error", "reason": "connection refused"}
