"""Plausibility checks shared by the services, with the messages people read (Chinese). Limits come from the models,
so a form, the API and an import refuse the same input with the same words, before anything is written."""

from datetime import date

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection

from gis_app.lib import clock

# Nothing the platform records happened before this day (the campaign's data starts in 2020; older paper records may
# be entered, but not from another century).
EARLIEST = date(2000, 1, 1)


def too_long(model, field: str, value: str | None) -> str | None:
    f = model._meta.get_field(field)
    limit = f.max_length or settings.MAX_TEXT_LENGTH
    text = value or ""
    if len(text) > limit:
        return f"{f.verbose_name}不能超过{limit}个字（现有{len(text)}个）"
    return None


def implausible_day(day: date | None, label: str, *, future_allowed: bool = False) -> str | None:
    if day is None:
        return None
    if day < EARLIEST:
        return f"{label}不能早于{EARLIEST:%Y-%m-%d}"
    if not future_allowed and day > clock.today():
        return f"{label}不能晚于今天"
    return None


def outside_region(point: Point | None) -> str | None:
    """A point must lie in the district (the union of the 街镇 outlines, plus CAREHOME_DISTRICT_TOLERANCE_M)."""
    if point is None:
        return None
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        return "坐标超出经纬度范围"
    with connection.cursor() as cur:
        cur.execute(
            """SELECT NOT EXISTS (SELECT 1 FROM carehomes_subdistrict)
                   OR EXISTS (SELECT 1 FROM carehomes_subdistrict
                              WHERE ST_DWithin(boundary::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s))""",
            [point.x, point.y, settings.CAREHOME_DISTRICT_TOLERANCE_M],
        )
        inside = cur.fetchone()[0]
    return None if inside else "位置不在本辖区范围内，请核对经纬度"
