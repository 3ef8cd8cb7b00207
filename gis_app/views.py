from django.db import connection
from django.http import JsonResponse


def postgis_version() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT PostGIS_Lib_Version()")
        return cur.fetchone()[0]


def healthz(request):
    """Liveness for load balancers and `make run`: the database answers and PostGIS is installed."""
    try:
        version = postgis_version()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return JsonResponse({"database": "error", "reason": str(exc).strip()[:500]}, status=503)
    return JsonResponse({"database": "ok", "postgis": version})
