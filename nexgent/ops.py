"""Health endpoints (no auth) for load balancers and orchestrators."""

import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django_prometheus.exports import ExportToDjangoView

from nexgent.health import readiness


def health(request):
    return JsonResponse({"status": "ok"})


def health_live(request):
    return JsonResponse({"status": "alive"})


def health_ready(request):
    """Ready: the database and the cache answer, and every check the apps registered passes
    (the tick is on time with fresh prices, signals are not left waiting)."""
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
    checks.update(readiness())
    ready = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


def metrics(request):
    """Prometheus text, for a scraper on an allowed network or a logged-in operator."""
    if not _may_scrape(request):
        return JsonResponse(
            {
                "error": "Metrics need an allowed address or an operator login.",
                "code": "forbidden",
                "details": [],
            },
            status=403,
        )
    return ExportToDjangoView(request)


def _may_scrape(request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", "0.0.0.0"))
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)
