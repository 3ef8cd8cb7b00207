"""Placing homes listed without coordinates (未定位): by hand on the map, or by the geocoder and then confirmed by a
person. A geocoded position stays marked as such (待确认) until someone confirms or moves it."""

from dataclasses import dataclass, field

from django.contrib.gis.geos import Point
from django.db import transaction

from gis_app.lib.srid import WGS84

from . import geocoder
from .models import CareHome, CoordinateSystem, LocationStatus, Role, Subdistrict
from .scope import profile_of, role_of


class LocateError(ValueError):
    pass


def can_locate(user, home: CareHome) -> bool:
    """The bureau places any home; a 街镇 office the homes listed under it."""
    role = role_of(user)
    if role == Role.BUREAU:
        return True
    if role == Role.SUBDISTRICT:
        return home.subdistrict_id is not None and home.subdistrict_id == profile_of(user).subdistrict_id
    return False


def _point(lon, lat) -> Point:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise LocateError("请在地图上点击或拖动标记选定位置") from None
    if not (73 <= lon <= 136 and 3 <= lat <= 54):
        raise LocateError("位置超出中国范围")
    return Point(lon, lat, srid=WGS84)


def place(home: CareHome, lon, lat, *, by) -> CareHome:
    """A person puts the home on the map: confirmed. It must fall in a 街镇 (for a 街镇 office: its own)."""
    if not can_locate(by, home):
        raise LocateError("您无权标定该机构的位置")
    point = _point(lon, lat)
    inside = Subdistrict.objects.containing(point).first()
    if inside is None:
        raise LocateError("该位置不在滨海新区任何街镇内")
    if role_of(by) == Role.SUBDISTRICT and inside.pk != profile_of(by).subdistrict_id:
        raise LocateError(f"该位置在{inside.name}，不在本街镇内；跨街镇的机构请联系区民政局标定")
    with transaction.atomic():
        home = CareHome.objects.select_for_update().get(pk=home.pk)
        home.location = point
        home.location_status = LocationStatus.CONFIRMED
        home.location_source = CoordinateSystem.WGS84
        home.geocode_level = ""
        home.save()
    return home


def confirm(home: CareHome, *, by) -> CareHome:
    """A person checked the geocoded position and accepts it."""
    if not can_locate(by, home):
        raise LocateError("您无权确认该机构的位置")
    with transaction.atomic():
        home = CareHome.objects.select_for_update().get(pk=home.pk)
        if home.location_status != LocationStatus.GEOCODED:
            raise LocateError("该机构的位置不是地理编码结果，无需确认")
        home.location_status = LocationStatus.CONFIRMED
        home.save(update_fields=["location_status"])
    return home


@dataclass
class GeocodeReport:
    total: int = 0
    placed: int = 0
    not_found: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        notes = []
        if self.not_found:
            notes.append(
                f"地址未找到（{len(self.not_found)} 家，请在地图上手工标定）：{'、'.join(self.not_found[:50])}"
            )
        if self.outside:
            notes.append(f"编码结果不在滨海新区（{len(self.outside)} 家，未采用）：{'、'.join(self.outside[:50])}")
        return {
            "homes": self.total,
            "placed": self.placed,
            "not_found": self.not_found[:200],
            "outside": self.outside[:200],
            "notes": notes,
            "summary": f"共 {self.total} 家未定位，地理编码定位 {self.placed} 家（待确认）",
        }


def geocode_unlocated(homes, progress=None) -> GeocodeReport:
    """Asks the geocoder for every unlocated home in `homes`; a position inside the district is stored as 地理编码
    定位（待确认）. Homes placed meanwhile are left alone, so running it twice changes nothing more."""
    ids = list(homes.filter(location_status=LocationStatus.UNLOCATED).values_list("pk", flat=True))
    report = GeocodeReport(total=len(ids))
    for i, pk in enumerate(ids, start=1):
        home = CareHome.objects.get(pk=pk)
        found = geocoder.geocode(home.address)  # GeocoderError stops the run: the key or the network is wrong
        if found is None:
            report.not_found.append(home.name)
        else:
            point = Point(found.lon, found.lat, srid=WGS84)
            if Subdistrict.objects.containing(point).first() is None:
                report.outside.append(home.name)
            else:
                with transaction.atomic():
                    updated = (
                        CareHome.objects.select_for_update()
                        .filter(pk=pk, location_status=LocationStatus.UNLOCATED)
                        .order_by("pk")
                        .first()
                    )
                    if updated is not None:
                        updated.location = point
                        updated.location_status = LocationStatus.GEOCODED
                        updated.location_source = CoordinateSystem.CGCS2000
                        updated.geocode_level = found.level
                        updated.save()
                        report.placed += 1
        if progress:
            progress(i, len(ids), f"已处理 {i}/{len(ids)}")
    return report
