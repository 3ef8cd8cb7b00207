"""The base of every GIS endpoint of the layers app (GeoJSON API, OGC API, tiles, downloads)."""

from rest_framework.views import APIView

from gis_app.carehomes.authentication import GIS


class GisAPIView(APIView):
    """Signed in by session, `Token`, or HTTP Basic with a token as the password (desktop GIS)."""

    authentication_classes = GIS
