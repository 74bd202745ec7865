"""The root URL wiring: each app owns its pages and API under urls.py."""

from django.contrib import admin
from django.urls import include, path

from agents import urls as agents_urls
from nexgent import api_docs, ops
from prices import urls as prices_urls
from signals_app import urls as signals_urls
from trading import urls as trading_urls
from wallets import urls as wallets_urls

api_urlpatterns = [
    *agents_urls.api_urlpatterns,
    *wallets_urls.api_urlpatterns,
    *trading_urls.api_urlpatterns,
    *signals_urls.api_urlpatterns,
    *prices_urls.api_urlpatterns,
]

# Under /api/, Django's own error pages answer JSON in the API's one shape (nexgent.api).
handler400 = "nexgent.api.bad_request"
handler403 = "nexgent.api.permission_denied"
handler404 = "nexgent.api.page_not_found"
handler500 = "nexgent.api.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_urlpatterns)),
    path("api/schema/", api_docs.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", api_docs.swagger_ui, name="api-docs"),
    path("health", ops.health, name="health"),
    path("health/live", ops.health_live, name="health-live"),
    path("health/ready", ops.health_ready, name="health-ready"),
    path("metrics", ops.metrics, name="prometheus-django-metrics"),
    path("", include(agents_urls.urlpatterns)),
    path("", include(trading_urls.urlpatterns)),
    path("", include(signals_urls.urlpatterns)),
]
