"""The OpenAPI schema and its Swagger UI, for logged-in operators only (SERVE_PERMISSIONS)."""

from django.contrib.auth.decorators import login_required
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.renderers import JSONRenderer


class SchemaView(SpectacularAPIView):
    def finalize_response(self, request, response, *args, **kwargs):
        # A refusal is JSON in the API's error shape, not an "OpenAPI document" of an error.
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


# A person opening the docs logged out is sent to the login page and back. The split view
# serves Swagger UI's start-up script as a file and the template keeps its styles in a file,
# so the docs need no exception to the content security policy.
swagger_ui = login_required(
    SpectacularSwaggerSplitView.as_view(
        url_name="api-schema", template_name="api_docs/swagger_ui.html"
    )
)
