"""Property-based tests (hypothesis): for any input, the importers, the coordinate conversions, the geometry check and
the alarm payload parser answer with a result or a precise refusal — never a traceback, never a half-written import."""

import io
import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from gis_app.carehomes.importers.carehomes import COLUMNS, ImportFileError, import_carehomes
from gis_app.carehomes.models import CareHome
from gis_app.lib import coords
from gis_app.lib.geojson import DEPTH, GeoJSONError, to_geos
from gis_app.lib.sheets import parse_degrees

from .conftest import make_credit_code

HEADERS = list(COLUMNS)
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- coordinates -------------------------------------------------------------------------------------------------
china = st.tuples(st.floats(73.7, 134.9), st.floats(18.2, 53.4))


@settings(max_examples=400, deadline=None)
@given(china, st.sampled_from(["gcj02", "bd09", "cgcs2000", "wgs84"]))
def test_conversions_round_trip_across_china_within_a_millionth_of_a_degree(point, system):
    lon, lat = point
    assume(not coords.out_of_china(lon, lat))
    there = coords.from_wgs84(lon, lat, system)
    back = coords.to_wgs84(*there, system)
    assert abs(back[0] - lon) < 1e-6 and abs(back[1] - lat) < 1e-6, (system, point, there, back)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 179),
    st.integers(0, 59),
    st.decimals(0, "59.99", places=2),
    st.sampled_from(["°′″", "度分秒", "°'\""]),
)
def test_degrees_minutes_seconds_read_back_exactly(d, m, s, marks):
    text = f"{d}{marks[0]}{m}{marks[1]}{s}{marks[2]}"
    assert math.isclose(parse_degrees(text), d + m / 60 + float(s) / 3600, abs_tol=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), st.floats(allow_nan=True), st.integers(), st.none(), st.booleans()))
def test_any_coordinate_cell_is_a_number_or_a_chinese_refusal(value):
    try:
        result = parse_degrees(value)
    except ValueError as exc:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc)), repr(exc)
    else:
        assert isinstance(result, float)


# --- geometry ------------------------------------------------------------------------------------------------------
number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
)
position = st.lists(number, min_size=0, max_size=4)
json_value = st.recursive(st.one_of(number, position), lambda inner: st.lists(inner, max_size=4), max_leaves=30)
geometry = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                *DEPTH,
                "GeometryCollection",
                "Feature",
                "point",
                "",
            ]
        ),
        "coordinates": json_value,
    },
    optional={
        "crs": st.one_of(
            st.none(),
            st.text(max_size=5),
            st.fixed_dictionaries({"properties": st.dictionaries(st.text(max_size=5), st.text(max_size=20))}),
        )
    },
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(geometry, st.text(max_size=40), json_value, st.dictionaries(st.text(max_size=8), json_value, max_size=3))
)
def test_any_geometry_input_is_a_geometry_or_a_chinese_refusal(value):
    try:
        geom = to_geos(value, max_vertices=50)
    except GeoJSONError as exc:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc)), repr(exc)
    else:
        assert geom.srid == 4326 and geom.geom_type in DEPTH  # one of the GeoJSON geometry types


# --- the care-home importer ----------------------------------------------------------------------------------------
printable = st.characters(blacklist_categories=("Cc", "Cs"))  # what a spreadsheet cell can hold
cell = st.one_of(
    st.none(),
    st.text(printable, max_size=12),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["117°39′37″", "１１７．６６", "39.02", "80人", "1,020", "运营中", "民办", "=SUM(A1)", "\u3000"]),
)


def _good_row(serial: int) -> dict:
    return {
        "机构名称": f"性质测试养老院{serial}",
        "统一社会信用代码": make_credit_code(serial),
        "地址": "滨海新区性质路1号",
        "经度": 117.6603,
        "纬度": 39.0194,
        "床位数": 60,
        "在院老人数": 50,
    }


@SLOW
@given(
    rows=st.lists(
        st.tuples(st.booleans(), st.dictionaries(st.sampled_from(HEADERS), cell, max_size=6)), min_size=1, max_size=6
    ),
    as_csv=st.booleans(),
    encoding=st.sampled_from(["utf-8-sig", "gbk", "utf-16"]),
)
def test_any_spreadsheet_imports_whole_or_not_at_all(db, world, rows, as_csv, encoding):
    """Good rows mixed with mangled ones, as .xlsx or as CSV in several encodings: the import either commits every
    row or writes nothing, and explains itself; a second run of a committed file changes nothing."""
    before = CareHome.objects.count()
    table = [{**_good_row(700_000 + i), **(mangled if broken else {})} for i, (broken, mangled) in enumerate(rows)]
    if as_csv:
        buf = io.StringIO()
        import csv

        writer = csv.DictWriter(buf, fieldnames=HEADERS)
        writer.writeheader()
        writer.writerows({h: ("" if r.get(h) is None else r.get(h)) for h in HEADERS} for r in table)
        try:
            data, name = buf.getvalue().encode(encoding), "p.csv"
        except UnicodeEncodeError:
            return
    else:
        wb = Workbook()
        ws = wb.active
        ws.append(HEADERS)
        for r in table:
            ws.append([r.get(h) for h in HEADERS])
        out = io.BytesIO()
        wb.save(out)
        data, name = out.getvalue(), "p.xlsx"
    try:
        report = import_carehomes(data, name)
    except ImportFileError as exc:
        assert str(exc) and CareHome.objects.count() == before
        return
    if report.committed:
        assert CareHome.objects.count() == before + report.created
        assert import_carehomes(data, name).unchanged == report.created + report.updated + report.unchanged
    else:
        assert report.errors and CareHome.objects.count() == before
        assert all(e.row >= 2 and e.message for e in report.errors)


# --- the alarm payload parser --------------------------------------------------------------------------------------
event = st.fixed_dictionaries(
    {},
    optional={
        "event_id": st.one_of(st.text(max_size=120), st.integers(), st.booleans(), st.none(), st.floats()),
        "device_id": st.one_of(st.text(max_size=10), st.integers(), st.none()),
        "kind": st.one_of(st.sampled_from(["fire", "fault", "test", "FIRE", ""]), st.integers()),
        "occurred_at": st.one_of(
            st.text(max_size=30),
            st.integers(),
            st.none(),
            st.sampled_from(["2026-11-30T08:00:00+08:00", "2026-11-30T08:00:00", "yesterday"]),
        ),
    },
)
payload = st.one_of(
    event,
    st.fixed_dictionaries(
        {
            "events": st.one_of(
                st.lists(st.one_of(event, st.integers(), st.text(max_size=5)), max_size=5),
                st.text(max_size=5),
                st.none(),
            )
        }
    ),
    st.lists(event, max_size=3),
    st.text(max_size=20),
    st.integers(),
)


@pytest.fixture
def vendor(db):
    from gis_app.alarms.models import Vendor

    return Vendor.objects.create(slug="prop-vendor", name="性质测试厂商", secret="s" * 32)


@SLOW
@given(body=payload, raw=st.one_of(st.none(), st.binary(max_size=40)))
def test_any_alarm_body_is_stored_or_refused_with_a_4xx_and_the_field(vendor, body, raw):
    from gis_app.alarms import services, webhook
    from gis_app.alarms.models import AlarmEvent

    data = raw if raw is not None else json.dumps(body).encode()
    timestamp = str(int(__import__("time").time()))
    headers = {"X-Alarm-Timestamp": timestamp, "X-Alarm-Signature": services.signature(vendor.secret, timestamp, data)}
    before = AlarmEvent.objects.count()
    status, answer = webhook.receive(
        vendor.slug,
        headers=headers,
        content_type="application/json",
        content_length=str(len(data)),
        read_body=lambda n: data[:n],
    )
    assert status in (200, 400, 413, 422), (status, answer)
    if status != 200:
        assert answer["errors"] and AlarmEvent.objects.count() == before
