"""The layer catalogue, feature validation and the REST API, with permissions per role."""

import math

import pytest

from layers import services
from layers.catalogue import BY_KEY, CATALOGUE, get_layer
from layers.models import Building, EbikeChargingArea, EvacuationRoute, SafetyExit


def near(home, dx=0.0, dy=0.0):
    """[lon, lat] dx/dy metres east/north of a home."""
    lat = home.location.y
    return [home.location.x + dx / (111_320 * math.cos(math.radians(lat))), lat + dy / 110_540]


def square(home, cx, cy, size):
    h = size / 2
    ring = [
        near(home, cx - h, cy - h),
        near(home, cx + h, cy - h),
        near(home, cx + h, cy + h),
        near(home, cx - h, cy + h),
    ]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def exit_feature(home, **props):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": near(home, 5, 5)},
            "properties": {"care_home": home.pk, "kind": "door", "status": "open", **props}}  # fmt: skip


def test_the_catalogue_drives_the_models():
    keys = [layer.key for layer in CATALOGUE]
    assert keys == ["building", "fire_lane", "safety_exit", "evacuation_route", "ebike_area", "micro_fire_station",
                    "fire_equipment", "fire_control_room", "hazard"]  # fmt: skip
    exit_ = get_layer("safety_exit")
    model = exit_.get_model()
    assert model is SafetyExit
    assert model._meta.get_field("location").geom_type == "POINT"
    assert [c for c, _ in model._meta.get_field("status").choices] == exit_.field("status").values.codes
    assert model._meta.get_field("clear_width_m").verbose_name == "净宽（米）"
    assert model._meta.get_field("uuid").unique
    # a layer whose model lives in another app
    assert BY_KEY["hazard"].get_model()._meta.app_label == "hazards" and not BY_KEY["hazard"].owned_here


def test_catalogue_api_says_what_the_user_may_edit(client, world):
    client.force_login(world["users"]["fire_rescue"])
    data = client.get("/api/layers/").json()
    assert {d["key"]: d["editable"] for d in data}["safety_exit"] is False
    client.force_login(world["users"]["care_home"])
    data = {d["key"]: d for d in client.get("/api/layers/").json()}
    assert data["safety_exit"]["editable"] and not data["hazard"]["editable"]
    assert data["safety_exit"]["fields"][2]["values"][1] == ["locked", "上锁"]


def test_create_read_update_delete_through_the_api(client, world):
    home = world["home_a"]
    client.force_login(world["users"]["care_home"])
    r = client.post(
        "/api/layers/safety_exit/", exit_feature(home, clear_width_m="1.25"), content_type="application/json"
    )
    assert r.status_code == 201, r.content
    feature = r.json()
    assert feature["properties"]["status_label"] == "正常开启" and feature["properties"]["clear_width_m"] == 1.25
    uid = feature["id"]
    assert SafetyExit.objects.get(uuid=uid).created_by == world["users"]["care_home"]
    r = client.patch(
        f"/api/layers/safety_exit/{uid}/", {"properties": {"status": "locked"}}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["properties"]["status"] == "locked"
    moved = {"type": "Point", "coordinates": near(home, 10, 10)}
    r = client.patch(
        f"/api/layers/safety_exit/{uid}/", {"geometry": moved, "properties": {}}, content_type="application/json"
    )
    assert r.json()["geometry"]["coordinates"] == pytest.approx(moved["coordinates"], abs=1e-7)
    listing = client.get(f"/api/layers/safety_exit/?care_home={home.pk}&status=locked").json()
    assert [f["id"] for f in listing["features"]] == [uid] and listing["count"] == 1
    assert client.delete(f"/api/layers/safety_exit/{uid}/").status_code == 204
    assert not SafetyExit.objects.filter(uuid=uid).exists()


@pytest.mark.parametrize(
    ("geometry", "code", "message"),
    [
        ({"type": "LineString", "coordinates": [[117.6, 39.0], [117.61, 39.0]]}, "wrong_type", "几何类型应为 Point"),
        ({"type": "Point", "coordinates": [116.40, 39.90]}, "outside_district", "超出滨海新区范围"),
        ("far", "too_far", "超过允许的 500 米"),
        ({"type": "Point", "coordinates": []}, "invalid", "无法解析几何"),
    ],
)
def test_bad_geometries_are_refused_precisely(client, world, geometry, code, message):
    home = world["home_a"]
    if geometry == "far":
        geometry = {"type": "Point", "coordinates": near(home, 900, 0)}
    client.force_login(world["users"]["bureau"])
    body = {**exit_feature(home), "geometry": geometry}
    r = client.post("/api/layers/safety_exit/", body, content_type="application/json")
    assert r.status_code == 400 and message in r.json()["errors"]["geometry"]
    if code != "invalid":
        assert r.json()["code"] == code
    assert not SafetyExit.objects.exists()


def test_bad_attributes_are_all_reported(client, world):
    client.force_login(world["users"]["bureau"])
    body = exit_feature(world["home_a"], kind="window", clear_width_m="wide", status=None, colour="red")
    r = client.post("/api/layers/safety_exit/", body, content_type="application/json")
    errors = r.json()["errors"]
    assert r.status_code == 400
    assert "不是有效值" in errors["kind"] and "应为数字" in errors["clear_width_m"]
    assert "必填" in errors["status"] and errors["colour"] == "未知字段"


def test_a_self_intersecting_polygon_is_refused_but_an_unambiguous_repair_is_made(world):
    home, user, layer = world["home_a"], world["users"]["bureau"], get_layer("ebike_area")
    a, b, c, d = near(home, 0, 0), near(home, 20, 20), near(home, 20, 0), near(home, 0, 20)
    bowtie = {"type": "Polygon", "coordinates": [[a, b, c, d, a]]}
    with pytest.raises(services.FeatureError) as err:
        services.save_feature(layer, by=user, home=home, geometry=bowtie, attributes={})
    assert err.value.code == "invalid_geometry"
    # A repeated vertex that doubles back on itself (a spike) is repaired without changing the area.
    p = square(home, 30, 30, 10)["coordinates"][0]
    spike = {"type": "Polygon", "coordinates": [[p[0], p[1], near(home, 40, 20), p[1], p[2], p[3], p[0]]]}
    feature = services.save_feature(layer, by=user, home=home, geometry=spike, attributes={})
    assert feature.repair_note.startswith("几何已自动修复") and feature.area.valid


def test_one_part_multi_geometries_are_accepted(world):
    home = world["home_a"]
    geom = {"type": "MultiPoint", "coordinates": [near(home, 3, 3)]}
    feature = services.save_feature(get_layer("safety_exit"), by=world["users"]["bureau"], home=home, geometry=geom,
                                    attributes={"kind": "door", "status": "open"})  # fmt: skip
    assert feature.location.geom_type == "Point"


def test_computed_fields(world):
    home, user = world["home_a"], world["users"]["bureau"]
    route = services.save_feature(get_layer("evacuation_route"), by=user, home=home, attributes={"status": "clear"},
                                  geometry={"type": "LineString", "coordinates": [near(home, 0, 0), near(home, 30, 40)]})  # fmt: skip
    assert float(EvacuationRoute.objects.get(pk=route.pk).length_m) == pytest.approx(50, abs=0.5)
    area = services.save_feature(get_layer("ebike_area"), by=user, home=home, geometry=square(home, 60, 0, 10),
                                 attributes={"distance_to_building_m": "12"})  # fmt: skip
    assert float(area.distance_to_building_m) == 12  # no buildings yet: the entered value stays
    services.save_feature(
        get_layer("building"), by=user, home=home, geometry=square(home, 0, 0, 20), attributes={"name": "1号楼"}
    )
    area = services.save_feature(get_layer("ebike_area"), by=user, instance=EbikeChargingArea.objects.get(pk=area.pk),
                                 attributes={"capacity": 10})  # fmt: skip
    assert float(area.distance_to_building_m) == pytest.approx(45, abs=0.5)  # 55 m centre to centre, minus 5 + 5


@pytest.mark.parametrize(
    ("role", "edit_a", "edit_b", "read_a", "read_b"),
    [
        ("bureau", True, True, True, True),
        ("fire_rescue", False, False, True, True),
        ("subdistrict", False, False, True, False),
        ("care_home", True, False, True, False),
        ("other_home", False, True, False, True),
        ("third_party", True, False, True, False),
        ("no_role", False, False, False, False),
    ],
)
def test_permissions_on_every_endpoint(client, world, role, edit_a, edit_b, read_a, read_b):
    bureau = world["users"]["bureau"]
    features = {}
    for name in ("home_a", "home_b"):
        home = world[name]
        features[name] = services.save_feature(get_layer("building"), by=bureau, home=home, geometry=square(home, 0, 0, 10),
                                                attributes={"name": "楼"})  # fmt: skip
    client.force_login(world["users"][role])
    for name, can_edit, can_read in (("home_a", edit_a, read_a), ("home_b", edit_b, read_b)):
        home, feature = world[name], features[name]
        url = f"/api/layers/building/{feature.uuid}/"
        assert client.get(url).status_code == (200 if can_read else 404)
        ids = {f["id"] for f in client.get("/api/layers/building/?page_size=1000").json()["features"]}
        assert (str(feature.uuid) in ids) == can_read
        assert (client.get(f"/ogc/collections/building/items/{feature.uuid}").status_code == 200) == can_read
        patch = client.patch(url, {"properties": {"name": "改名"}}, content_type="application/json")
        assert patch.status_code == (200 if can_edit else 403 if can_read else 404)
        create = client.post("/api/layers/building/", {"type": "Feature", "geometry": square(home, 30, 30, 5),
                                                       "properties": {"care_home": home.pk, "name": "新楼"}},
                             content_type="application/json")  # fmt: skip
        assert create.status_code == (201 if can_edit else 403 if can_read else 400)
        delete = client.delete(url)
        assert delete.status_code == (204 if can_edit else 403 if can_read else 404)
        dl = client.get(f"/carehomes/{home.pk}/layers.geojson")
        assert dl.status_code == (200 if can_read else 404)


def test_hazards_are_a_read_only_layer_here(client, world):
    from gis_app.hazards.services import report_hazard

    home = world["home_a"]
    from django.contrib.gis.geos import Point

    report_hazard(
        care_home=home,
        description="楼道堆物",
        by=world["users"]["bureau"],
        location=Point(*near(home, 2, 2), srid=4326),
    )
    client.force_login(world["users"]["bureau"])
    data = client.get(f"/api/layers/hazard/?care_home={home.pk}").json()
    assert data["features"][0]["properties"]["description"] == "楼道堆物"
    r = client.post("/api/layers/hazard/", {"type": "Feature", "geometry": {"type": "Point", "coordinates": near(home)},
                                            "properties": {"care_home": home.pk, "description": "x", "severity": "general"}},
                    content_type="application/json")  # fmt: skip
    assert r.status_code == 403 and r.json()["code"] == "read_only"


def test_api_filters_validate(client, world):
    client.force_login(world["users"]["bureau"])
    assert client.get("/api/layers/safety_exit/?bbox=1,2").status_code == 400
    assert client.get("/api/layers/safety_exit/?status=nope").status_code == 400
    assert client.get("/api/layers/building/?status=open").status_code == 400
    assert client.get("/api/layers/nope/").status_code == 404
    assert client.get("/api/layers/safety_exit/?care_home=x").status_code == 400
    client.logout()
    assert client.get("/api/layers/safety_exit/").status_code == 401


def test_building_model_has_the_common_columns():
    names = {f.name for f in Building._meta.get_fields()}
    assert {
        "uuid",
        "care_home",
        "note",
        "surveyed_on",
        "surveyed_by",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
    } <= names


def test_paging_follows_next_links_without_repeats(client, world):
    home, user = world["home_a"], world["users"]["bureau"]
    made = [
        services.save_feature(get_layer("safety_exit"), by=user, home=home, geometry={"type": "Point", "coordinates": near(home, i, i)},
                              attributes={"kind": "door", "status": "open"})
        for i in range(5)
    ]  # fmt: skip
    client.force_login(user)
    seen, url = [], "/api/layers/safety_exit/?page_size=2"
    first = client.get(url).json()
    assert first["count"] == 5
    while url:
        data = client.get(url).json()
        seen += [f["id"] for f in data["features"]]
        url = data.get("next")
    assert seen == [str(f.uuid) for f in made]
    assert client.get("/api/layers/safety_exit/?after=x").status_code == 400


def test_bulk_creation_stores_what_one_by_one_stores_and_refuses_the_same(world):
    """The field pull's bulk path (save_new_features, COPY) against save_feature: the same stored values, computed
    fields and history rows; a refused item is named and nothing of the batch is written."""
    import uuid

    from django.contrib.gis.geos import LineString

    bureau, home = world["users"]["bureau"], world["home_a"]
    layer = get_layer("evacuation_route")
    x, y = home.location.x, home.location.y
    line = LineString((x, y), (x + 0.0005, y + 0.0002), srid=4326)
    attrs = {"status": "obstructed", "note": " 外业 ", "surveyed_on": "2026-11-30", "surveyed_by": "张三"}
    one = services.save_feature(layer, by=bureau, home=home, geometry=line, attributes=attrs)
    uid = uuid.uuid4()
    [bulk], errors = services.save_new_features(
        layer, [{"home": home, "geometry": line.clone(), "attributes": attrs, "uuid": uid}], by=bureau
    )
    assert errors == {} and bulk.pk and str(bulk.uuid) == str(uid)
    a, b = EvacuationRoute.objects.get(pk=one.pk), EvacuationRoute.objects.get(uuid=uid)
    fields = [
        "status",
        "length_m",
        "note",
        "surveyed_on",
        "surveyed_by",
        "care_home_id",
        "created_by_id",
        "updated_by_id",
    ]
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert a.centerline.equals_exact(b.centerline, 1e-12) and b.created_at and b.updated_at
    history = EvacuationRoute.history.rel.related_model.objects
    assert history.filter(pgh_obj_id=b.pk).count() == history.filter(pgh_obj_id=a.pk).count() == 1  # audit, as INSERT

    far = LineString((x + 0.05, y), (x + 0.051, y), srid=4326)
    before = EvacuationRoute.objects.count()
    created, errors = services.save_new_features(
        layer,
        [
            {"home": home, "geometry": line.clone(), "attributes": {"status": "clear"}},
            {"home": home, "geometry": far, "attributes": {"status": "clear"}},
            {"home": home, "geometry": line.clone(), "attributes": {"status": "wide open"}},
        ],
        by=bureau,
    )
    assert created == [] and EvacuationRoute.objects.count() == before
    assert set(errors) == {1, 2} and errors[1].code == "too_far" and "status" in errors[2].errors
    _, errors = services.save_new_features(
        layer,
        [{"home": world["home_b"], "geometry": line.clone(), "attributes": {"status": "clear"}}],
        by=world["users"]["subdistrict"],
    )
    assert errors[0].code == "forbidden"


def test_a_feature_drawn_twice_is_pointed_out_when_asked_and_stored_when_confirmed(client, world):
    home, other = world["home_a"], world["home_b"]
    client.force_login(world["users"]["bureau"])

    def post(layer, body, query="?check_duplicates=true"):
        return client.post(f"/api/layers/{layer}/{query}", body, content_type="application/json")

    assert post("safety_exit", exit_feature(home)).status_code == 201
    first = SafetyExit.objects.get(care_home=home)
    twin = exit_feature(home)
    twin["geometry"]["coordinates"] = near(home, 5.6, 5.5)  # about 0.8 m from the first
    r = post("safety_exit", twin)
    assert r.status_code == 409, r.content
    body = r.json()
    assert body["code"] == "duplicate" and body["duplicate_of"]["id"] == first.pk
    assert 0.5 < body["duplicate_of"]["distance_m"] < 1.0
    assert "可能重复" in body["errors"]["geometry"] and "安全出口" in body["errors"]["geometry"]
    assert SafetyExit.objects.filter(care_home=home).count() == 1  # nothing stored
    # 3 m away is another exit; the same spot at another home is not a duplicate; confirmed, the twin is stored
    far = exit_feature(home)
    far["geometry"]["coordinates"] = near(home, 8, 5)
    assert post("safety_exit", far).status_code == 201
    spot = services.parse_geometry(twin["geometry"])
    assert services.near_duplicate(get_layer("safety_exit"), other, spot) is None  # another home's exits are not twins
    assert services.near_duplicate(get_layer("safety_exit"), home, spot)["id"] == first.pk
    assert post("safety_exit", twin, "").status_code == 201
    # areas: one overlapping a building by most of its area is pointed out, one beside it is not
    building = {"type": "Feature", "geometry": square(home, 30, 30, 10), "properties": {"care_home": home.pk}}
    building["properties"]["name"] = "1号楼"
    assert post("building", building).status_code == 201
    redrawn = {**building, "geometry": square(home, 31, 30.5, 10)}  # shifted by about a metre: 85 % overlap
    r = post("building", redrawn)
    assert r.status_code == 409 and 0.8 < r.json()["duplicate_of"]["overlap"] < 0.9, r.content
    assert "重叠" in r.json()["errors"]["geometry"]
    beside = {**building, "geometry": square(home, 42, 30, 10)}
    assert post("building", beside).status_code == 201
    # lines: the same route redrawn within a metre or two
    line = {"type": "LineString", "coordinates": [near(home, 0, 0), near(home, 20, 0)]}
    route = {"type": "Feature", "geometry": line, "properties": {"care_home": home.pk, "status": "clear"}}
    assert post("evacuation_route", route).status_code == 201
    again = {**route, "geometry": {"type": "LineString", "coordinates": [near(home, 0, 1), near(home, 20, 1.5)]}}
    assert post("evacuation_route", again).json()["code"] == "duplicate"
    assert post("evacuation_route", exit_feature(home), "?check_duplicates=perhaps").status_code == 400


def test_problem_flags_are_declared_with_the_status_values(client, world):
    client.force_login(world["users"]["care_home"])
    spec = {d["key"]: d for d in client.get("/api/layers/").json()}
    assert spec["ebike_area"]["problem_flags"] == ["compliant"]
    assert get_layer("ebike_area").problem_expression() == '"compliant" = false'
    assert get_layer("safety_exit").problem_expression() == "\"status\" IN ('locked', 'blocked')"
    assert get_layer("ebike_area").problem_labels() == ["不符合要求"]


def test_copy_in_stores_what_save_stores_whatever_python_type_a_value_arrives_in(world):
    """gis_app.lib.bulk.copy_in hands values of the column's own type to psycopg and prepares the rest as Django does:
    a float for a decimal, an int for a boolean, text for an integer key or a uuid, a datetime for a date (naive or
    aware) must all land as save() lands them."""
    import datetime
    import uuid

    from django.contrib.gis.geos import Point
    from django.utils import timezone

    from gis_app.lib.bulk import copy_in

    home, bureau = world["home_a"], world["users"]["bureau"]
    aware = timezone.make_aware(datetime.datetime(2026, 11, 30, 23, 30))  # the next day in UTC+8, not in UTC
    cases = [
        {"clear_width_m": 1.25, "exit_sign_ok": 1, "surveyed_on": datetime.datetime(2026, 11, 30, 23, 30)},
        {"clear_width_m": "0.9", "exit_sign_ok": 0, "surveyed_on": aware, "note": "外业"},
        {
            "clear_width_m": None,
            "exit_sign_ok": True,
            "surveyed_on": datetime.date(2026, 12, 1),
            "care_home_id": float(home.pk),
        },
    ]
    fields = ["clear_width_m", "exit_sign_ok", "surveyed_on", "note", "kind", "status", "care_home_id", "created_by_id"]

    def made(values: dict):
        uid = uuid.uuid4()
        values = {"note": "", "care_home_id": str(home.pk), **values}
        location = Point(home.location.x, home.location.y, srid=4326)
        return uid, SafetyExit(
            uuid=str(uid), created_by=bureau, kind="door", status="open", location=location, **values
        )

    for values in cases:
        one_uid, one = made(values)
        one.save()
        bulk_uid, bulk = made(values)
        copy_in(SafetyExit, [bulk])
        saved, copied = SafetyExit.objects.get(uuid=one_uid), SafetyExit.objects.get(uuid=bulk_uid)
        assert [getattr(copied, f) for f in fields] == [getattr(saved, f) for f in fields], values
        assert copied.location.equals_exact(saved.location, 0) and copied.created_at and copied.updated_at
