"""Health endpoints (no auth) for load balancers and orchestrators."""

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse


def health(request):
    return JsonResponse({"status": "ok"})


def health_live(request):
    return JsonResponse({"status": "alive"})


def health_ready(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        cache.set("health:ready", "1", timeout=5)
        checks["cache"] = "ok" if cache.get("health:ready") == "1" else "error: round trip"
    except Exception as exc:
        checks["cache"] = f"error: {exc.__class__.__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )
