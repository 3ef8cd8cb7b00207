"""The only code that calls an outside geocoder: 天地图 (Tianditu) geocoding, used when TIANDITU_KEY is set.

Request, as 天地图 documents it: GET {TIANDITU_GEOCODER_URL}?ds={"keyWord":"<address>"}&tk=<key>. Answer (JSON):
{"location": {"lon": "117.6", "lat": "39.0", "level": "地名地址"}, "status": "0", "msg": "ok", "searchVersion": ...};
status "101" means no result, "404" an error. Coordinates are CGCS2000 (within centimetres of WGS84 here).
A recorded answer is kept in tests/fixtures/tianditu_geocoder.json with its source; tests run a local stand-in."""

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings

log = logging.getLogger(__name__)


class GeocoderError(Exception):
    """The service could not answer (key, network, a malformed answer); the message is for the bureau."""


@dataclass(frozen=True)
class Found:
    lon: float
    lat: float
    level: str


def configured() -> bool:
    return bool(settings.TIANDITU_KEY)


def query_text(address: str) -> str:
    """Lists often leave out the city: the platform's region is put in front unless the address names it."""
    prefix = settings.GEOCODER_ADDRESS_PREFIX
    address = address.strip()
    if prefix and not address.startswith(prefix[:2]):
        return prefix + address
    return address


def geocode(address: str) -> Found | None:
    """The position of an address, or None when the service finds nothing."""
    if not configured():
        raise GeocoderError("未配置地理编码服务（设置 TIANDITU_KEY 后可用）")
    ds = json.dumps({"keyWord": query_text(address)}, ensure_ascii=False)
    url = settings.TIANDITU_GEOCODER_URL + "?" + urllib.parse.urlencode({"ds": ds, "tk": settings.TIANDITU_KEY})
    request = urllib.request.Request(url, headers={"User-Agent": "binhai-fire-safety/1.0"})
    try:
        with urllib.request.urlopen(request, timeout=settings.GEOCODER_TIMEOUT_SECONDS) as response:
            body = response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        log.warning("tianditu geocoder HTTP %s for %r", exc.code, address)
        raise GeocoderError(
            f"天地图地理编码服务拒绝了请求（HTTP {exc.code}）：请检查 TIANDITU_KEY 是否有效、是否开通了地理编码服务"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        log.warning("tianditu geocoder unreachable: %r", exc)
        raise GeocoderError("无法连接天地图地理编码服务：请检查服务器的网络") from None
    try:
        data = json.loads(body)
        status = str(data.get("status"))
    except (ValueError, AttributeError):
        raise GeocoderError("天地图地理编码服务的回答无法解析") from None
    if status == "101":
        return None
    if status != "0":
        raise GeocoderError(f"天地图地理编码服务出错（status {status}）：{str(data.get('msg', ''))[:80]}")
    try:
        location = data["location"]
        return Found(float(location["lon"]), float(location["lat"]), str(location.get("level", ""))[:30])
    except (KeyError, TypeError, ValueError):
        raise GeocoderError("天地图地理编码服务的回答缺少坐标") from None
