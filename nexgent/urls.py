from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from nexgent import ops

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("nexgent.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("health", ops.health, name="health"),
    path("health/live", ops.health_live, name="health-live"),
    path("health/ready", ops.health_ready, name="health-ready"),
    path("metrics", ops.metrics, name="prometheus-django-metrics"),
    path("", include("agents.dashboard_urls")),
]
