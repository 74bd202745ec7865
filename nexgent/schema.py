"""The OpenAPI schema describes every error the API can answer, not only its successes.

`AutoSchema` (REST_FRAMEWORK's DEFAULT_SCHEMA_CLASS) adds the error statuses that follow from
how a view is built, each answered in the one error shape (`ErrorSerializer`):

- 400 everywhere: Django refuses a request it cannot read (too many fields, a bad host) before
  any view runs, and every input is validated;
- 401 and 403 wherever a login is needed (no or bad credentials; an API key without the scope,
  or a session without its CSRF token);
- 404 wherever the path names an object (someone else's is 404 too);
- 413 and 415 wherever a body is read (over DATA_UPLOAD_MAX_MEMORY_SIZE; a media type no
  parser reads);
- 429 wherever the view throttles.

A view declares only what is its own: its success body and status, 409, 423. Request bodies
refuse unknown fields (nexgent.inputs.StrictInputMixin), so `strict_request_bodies` marks every
request body schema `additionalProperties: false`.
"""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from nexgent import inputs

BODY_METHODS = ("POST", "PUT", "PATCH")


class ErrorDetailSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True, help_text='The field in dotted form ("take_profit.levels[1]"), or null.'
    )
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every error of the API: a sentence, a machine-readable code, and what was wrong where."""

    error = serializers.CharField()
    code = serializers.CharField(help_text="validation_error, not_found, throttled, ...")
    details = ErrorDetailSerializer(many=True)


def error(description: str) -> OpenApiResponse:
    """An error answer a view documents itself (409, 423), in the one error shape."""
    return OpenApiResponse(ErrorSerializer, description=description)


COMMON_ERRORS = {
    400: "Bad request: invalid input, or a request Django cannot read.",
    401: "No credentials, or credentials that are not valid.",
    403: "Not allowed: an API key without the scope, or a session without its CSRF token.",
    404: "No such object of yours.",
    413: "The request body is over the size limit.",
    415: "The body is in a media type the endpoint does not read.",
    429: "Throttled: too many requests; retry after Retry-After seconds.",
}


class AutoSchema(openapi.AutoSchema):
    # Added to the finished operation rather than through get_response_serializers, which a
    # view's @extend_schema(responses=...) replaces.
    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error_schema = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        for code in self.error_statuses():
            responses.setdefault(
                str(code),
                {
                    # Errors are JSON whatever the view renders on success (CSV exports too).
                    "content": {"application/json": {"schema": error_schema}},
                    "description": COMMON_ERRORS[code],
                },
            )
        return operation

    def error_statuses(self) -> list[int]:
        statuses = [400]
        if not all(issubclass(p, AllowAny) for p in self.view.permission_classes):
            statuses += [401, 403]
        if "{" in self.path:
            statuses.append(404)
        if self.method in BODY_METHODS:
            statuses += [413, 415]
        if self.view.throttle_classes:
            statuses.append(429)
        return statuses


class NumberFieldScheme(OpenApiSerializerFieldExtension):
    """An input amount is a JSON number within its bounds, or the same as a plain decimal
    string (drf-spectacular alone documents a string, without the bounds)."""

    target_class = inputs.NumberField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        number = {"type": "number"}
        if field.min_value is not None:
            number["minimum"] = field.min_value
        if field.max_value is not None:
            number["maximum"] = field.max_value
        text = {"type": "string", "pattern": inputs.PLAIN_NUMBER_PATTERN}
        return {"anyOf": [number, text]} if direction == "request" else text


def strict_request_bodies(result, generator, request, public):
    """A POSTPROCESSING_HOOK: request bodies name only the fields the endpoint takes."""
    components = result.get("components", {}).get("schemas", {})
    for path in result.get("paths", {}).values():
        for operation in path.values():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media.get("schema", {}).get("$ref", "")
                schema = components.get(ref.rsplit("/", 1)[-1])
                if schema is not None and schema.get("type") == "object":
                    schema["additionalProperties"] = False
    return result
