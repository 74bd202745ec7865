"""One exception handler turns every error into {"error", "code", "details"}."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """A refusal by a service, with a machine-readable code and an HTTP status."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, code: str, status_code: int | None = None, details=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or []
        if status_code is not None:
            self.status_code = status_code


def _flatten(detail, prefix=""):
    """DRF error detail -> [{"field": "a.b", "message": "..."}]."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if isinstance(key, int):  # a list field's item errors come keyed by index
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, "" if key == "non_field_errors" else name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"field": prefix or None, "message": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out.extend(_flatten(item, f"{prefix}[{index}]" if prefix else f"[{index}]"))
        return out
    return [{"field": prefix or None, "message": str(detail)}]


def error_response(message, code, http_status, details=None, headers=None):
    return Response(
        {"error": message, "code": code, "details": details or []},
        status=http_status,
        headers=headers,
    )


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return error_response(exc.message, exc.code, exc.status_code, exc.details)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, Http404):
        return error_response("Not found.", "not_found", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        details = _flatten(exc.detail)
        fields = sorted({d["field"] for d in details if d["field"]})
        message = "Invalid input: " + ", ".join(fields) if fields else "Invalid input."
        if not fields and details:
            message = details[0]["message"]
        return error_response(message, "validation_error", response.status_code, details)
    code = getattr(exc, "default_code", "error")
    detail = getattr(exc, "detail", str(exc))
    if isinstance(detail, dict) and "detail" in detail:
        # simplejwt's token errors carry {"detail", "code", "messages"}: its own words.
        code, detail = detail.get("code", code), detail["detail"]
    headers = {k: v for k, v in response.items()}
    return error_response(str(detail), str(code), response.status_code, headers=headers)


# Errors Django answers before or outside DRF (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, too
# many fields, an unknown URL, a crash): JSON in the one shape under /api/, Django's own pages
# elsewhere.
_DJANGO_ERRORS = {
    400: ("Bad request.", "bad_request"),
    403: ("Permission denied.", "permission_denied"),
    404: ("Not found.", "not_found"),
    500: ("Server error.", "server_error"),
}


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _json_error(status_code: int):
    message, code = _DJANGO_ERRORS[status_code]
    return JsonResponse({"error": message, "code": code, "details": []}, status=status_code)


def _api_json_else(page, status_code: int):
    """A Django error handler: JSON in the one shape under /api/, Django's `page` elsewhere."""

    def handler(request, *args, **kwargs):  # Django passes `exception` by keyword
        return _json_error(status_code) if _is_api(request) else page(request, *args, **kwargs)

    return handler


def bad_request(request, exception=None):
    if _is_api(request) and isinstance(exception, RequestDataTooBig):
        return JsonResponse(
            {
                "error": "Request body is larger than "
                f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                "code": "request_too_large",
                "details": [],
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    return _api_json_else(defaults.bad_request, 400)(request, exception)


def page_not_found(request, exception=None):
    """No /api/ route ends in a slash (docs/decisions.md, API routes): a path that would be one
    without its slash is a 404 that names the route, not a redirect a client may not follow
    with its method and body."""
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    canonical = request.path.rstrip("/")
    if canonical != request.path and _routed(canonical):
        return JsonResponse(
            {
                "error": f"Not found: API routes take no trailing slash ({canonical}).",
                "code": "not_found",
                "details": [],
            },
            status=status.HTTP_404_NOT_FOUND,
        )
    return _json_error(404)


def _routed(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


permission_denied = _api_json_else(defaults.permission_denied, 403)
server_error = _api_json_else(defaults.server_error, 500)
