"""`limit` and `offset` on every list of the API, validated the one way (a 400 naming the
parameter), and the total in an `X-Total-Count` header: a list's JSON keeps its shape
({"transactions": [...]}, or the array of agents), so no client breaks (docs/decisions.md,
API routes)."""

from dataclasses import dataclass

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from nexgent.inputs import MAX_LIMIT, MAX_OFFSET, LimitField, OffsetField

DEFAULT_LIMIT = 100
TOTAL_COUNT_HEADER = "X-Total-Count"

TOTAL_COUNT = OpenApiParameter(
    TOTAL_COUNT_HEADER,
    int,
    OpenApiParameter.HEADER,
    response=[200],
    description="How many rows the list has in all, with its filters, across every page.",
)


class PageQuerySerializer(serializers.Serializer):
    """Query parameters of a list: at most `limit` rows, after the first `offset`."""

    limit = LimitField(default=DEFAULT_LIMIT, help_text=f"Rows in the page, at most {MAX_LIMIT}.")
    offset = OffsetField(default=0, help_text="Rows of the list before the page.")


@dataclass(frozen=True, slots=True)
class Page:
    rows: list
    total: int


def query_of(serializer_class, request) -> dict:
    """The request's query parameters, validated by `serializer_class` (a 400 naming any bad
    one)."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def page_of(rows, *, limit: int, offset: int) -> Page:
    """One page of a queryset (one COUNT, one SELECT) or of a list already read."""
    total = len(rows) if isinstance(rows, list) else rows.count()
    return Page(list(rows[offset : offset + limit]), total)


def page_response(key: str, items: list, total: int) -> Response:
    return Response({key: items}, headers={TOTAL_COUNT_HEADER: str(total)})


class HeaderPagination(BasePagination):
    """For the model viewsets (agents, API keys): a page of their plain array, the total in
    the header, and limit/offset refused when out of bounds rather than silently replaced."""

    def paginate_queryset(self, queryset, request, view=None):
        query = query_of(PageQuerySerializer, request)
        self.page = page_of(queryset, limit=query["limit"], offset=query["offset"])
        return self.page.rows

    def get_paginated_response(self, data):
        return Response(data, headers={TOTAL_COUNT_HEADER: str(self.page.total)})

    def get_paginated_response_schema(self, schema):
        return schema

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": low, "maximum": high},
            }
            for name, low, high in (("limit", 1, MAX_LIMIT), ("offset", 0, MAX_OFFSET))
        ]
