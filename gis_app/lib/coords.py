"""WGS84 <-> GCJ-02 (Amap, Tencent) <-> BD-09 (Baidu) for points in China.

GCJ-02's forward transform is public (Krasovsky ellipsoid); its inverse has no closed form and is found by
fixed-point iteration. Outside mainland China's rough bounding box the offset is not applied, like the services do.
All functions take and return (lon, lat) in degrees.
"""

import math

A = 6378245.0  # Krasovsky 1940 semi-major axis
EE = 0.00669342162296594323  # Krasovsky first eccentricity squared
X_PI = math.pi * 3000.0 / 180.0


def out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta(lon: float, lat: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * math.pi
    magic = 1 - EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward, lon: float, lat: float, tolerance: float = 1e-10, max_iterations: int = 30):
    """Solve forward(w) = (lon, lat) by fixed-point iteration w <- w - (forward(w) - target)."""
    w_lon, w_lat = lon, lat
    for _ in range(max_iterations):
        f_lon, f_lat = forward(w_lon, w_lat)
        d_lon, d_lat = f_lon - lon, f_lat - lat
        w_lon, w_lat = w_lon - d_lon, w_lat - d_lat
        if abs(d_lon) < tolerance and abs(d_lat) < tolerance:
            break
    return w_lon, w_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """By iteration: two steps reach ~1e-8 degrees in Binhai; we go on to 1e-10."""
    if out_of_china(lon, lat):
        return lon, lat
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02_approx(lon: float, lat: float) -> tuple[float, float]:
    """Baidu's published approximate inverse (a few cm off); bd09_to_gcj02 refines it."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return z * math.cos(theta), z * math.sin(theta)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Exact inverse by iteration (gcj02_to_bd09(result) == input to 1e-10 degrees)."""
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {
    "wgs84": lambda lon, lat: (lon, lat),
    "cgcs2000": lambda lon, lat: (lon, lat),  # agrees with WGS84 to centimetres-decimetres: one system here
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84 = {
    "wgs84": lambda lon, lat: (lon, lat),
    "cgcs2000": lambda lon, lat: (lon, lat),
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}
SYSTEMS = tuple(_TO_WGS84)


def to_wgs84(lon: float, lat: float, system: str) -> tuple[float, float]:
    try:
        return _TO_WGS84[system](lon, lat)
    except KeyError:
        raise ValueError(f"unknown coordinate system {system!r}; expected one of {SYSTEMS}") from None


def from_wgs84(lon: float, lat: float, system: str) -> tuple[float, float]:
    try:
        return _FROM_WGS84[system](lon, lat)
    except KeyError:
        raise ValueError(f"unknown coordinate system {system!r}; expected one of {SYSTEMS}") from None
