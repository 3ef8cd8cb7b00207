"""The base of every GIS endpoint of the layers app (GeoJSON API, OGC API, tiles, downloads)."""

from rest_framework.parsers import JSONParser
from rest_framework.views import APIView

from gis_app.carehomes.authentication import GIS


class GeoJSONParser(JSONParser):
    """Bodies sent as `application/geo+json` (RFC 7946's media type) are JSON."""

    media_type = "application/geo+json"


class GisAPIView(APIView):
    """Signed in by session, `Token`, or HTTP Basic with a token as the password (desktop GIS). Bodies are GeoJSON."""

    authentication_classes = GIS
    parser_classes = [JSONParser, GeoJSONParser]
