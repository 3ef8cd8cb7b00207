import pytest

from gis_app.lib import coords

# (WGS84 lon, lat) -> GCJ-02 (lon, lat): the published reference table of the eviltransform project.
KNOWN_GCJ02 = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), KNOWN_GCJ02)
def test_wgs84_to_gcj02_matches_known_points(wgs, gcj):
    assert coords.wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), KNOWN_GCJ02)
def test_gcj02_to_wgs84_inverts_to_a_millimetre(wgs, gcj):
    assert coords.gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=1e-8)


def test_gcj02_to_bd09_matches_the_published_formula():
    assert coords.gcj02_to_bd09(116.404, 39.915) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)
    assert coords.bd09_to_gcj02_approx(116.404, 39.915) == pytest.approx(
        (116.39762729119315, 39.90865673957631), abs=1e-12
    )


def test_bd09_inverse_is_exact_where_the_published_one_is_only_approximate():
    bd = coords.gcj02_to_bd09(117.68, 39.02)
    assert coords.bd09_to_gcj02(*bd) == pytest.approx((117.68, 39.02), abs=1e-9)


def test_offsets_in_binhai_are_the_known_magnitudes():
    # DOMAIN.md: GCJ-02 lies about 550 m east of WGS84 in Binhai, BD-09 about 1.35 km off.
    import math

    lon, lat = 117.68, 39.02
    g = coords.wgs84_to_gcj02(lon, lat)
    b = coords.wgs84_to_bd09(lon, lat)
    metres = lambda p: math.hypot((p[0] - lon) * 111320 * math.cos(math.radians(lat)), (p[1] - lat) * 110540)  # noqa: E731
    assert 450 < metres(g) < 650
    assert 1200 < metres(b) < 1500
    assert coords.bd09_to_wgs84(*b) == pytest.approx((lon, lat), abs=1e-8)


def test_outside_china_nothing_is_shifted():
    assert coords.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert coords.gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)


def test_cgcs2000_is_treated_as_wgs84_and_unknown_systems_are_refused():
    assert coords.to_wgs84(117.6, 39.0, "cgcs2000") == (117.6, 39.0)
    with pytest.raises(ValueError, match="unknown coordinate system"):
        coords.to_wgs84(117.6, 39.0, "utm50")
