from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from agents.models import ApiKey
from agents.permissions import scoped
from nexgent.csv_export import CsvRenderer
from nexgent.inputs import MAX_LIMIT
from nexgent.pages import TOTAL_COUNT, TOTAL_COUNT_HEADER, page_of, page_response, query_of
from nexgent.schema import error
from signals_app.exports import signal_rows
from signals_app.models import TradingSignal
from signals_app.selectors import signals_filtered, signals_list
from signals_app.serializers import (
    ExecutionPageSerializer,
    SignalCreateSerializer,
    SignalDetailSerializer,
    SignalExecutionSerializer,
    SignalFilterSerializer,
    SignalListResponseSerializer,
    SignalListSerializer,
    SignalSerializer,
    normalise_keys,
    signal_payload,
)
from signals_app.services import signal_create
from signals_app.tasks import signal_received

DEFAULT_LIMIT = 100
CSV_LIMIT = MAX_LIMIT
IDEMPOTENCY_KEY_MAX_LENGTH = 200

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="A retry with the same key answers the first signal (200) instead of a new one.",
)
CSV = OpenApiTypes.STR


class SignalCreateThrottle(SimpleRateThrottle):
    """120 signals a minute per API key (per user for operator logins)."""

    scope = "signals"

    def get_cache_key(self, request, view):
        if request.method != "POST":
            return None
        key = request.auth
        ident = f"key{key.pk}" if isinstance(key, ApiKey) else f"user{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SignalListView(APIView):
    permission_classes = [scoped("signals")]
    throttle_classes = [SignalCreateThrottle]

    # ?format=csv answers the same list as CSV.
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CsvRenderer]

    @extend_schema(
        operation_id="v1_trading_signals_list",
        parameters=[SignalFilterSerializer, TOTAL_COUNT],
        responses={
            (200, "application/json"): SignalListResponseSerializer,
            (200, "text/csv"): CSV,
        },
        description="The caller's signals, newest first; ?format=csv or Accept: text/csv for CSV.",
    )
    def get(self, request):
        as_csv = request.accepted_renderer.format == CsvRenderer.format
        query = SignalFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        agent_id = filters.pop("agent", None)
        limit = filters.pop("limit", CSV_LIMIT if as_csv else DEFAULT_LIMIT)
        offset = filters.pop("offset")
        rows = signals_list(
            owner=request.user, limit=limit, offset=offset, agent_id=agent_id, **filters
        )
        if as_csv:
            return Response(
                signal_rows(rows, with_agent=agent_id is not None),
                headers={"Content-Disposition": 'attachment; filename="trading-signals.csv"'},
            )
        return page_response(
            "signals",
            SignalListSerializer(rows, many=True).data,
            signals_filtered(owner=request.user, agent_id=agent_id, **filters).count(),
        )

    @extend_schema(
        request=SignalCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: SignalSerializer,
            200: SignalSerializer,
            409: error("An identical signal within 60 seconds."),
        },
        description="201 with the new signal (processed asynchronously); 200 with the first "
        "when a retry repeats an Idempotency-Key.",
    )
    def post(self, request):
        body = SignalCreateSerializer(data=normalise_keys(request.data))
        body.is_valid(raise_exception=True)
        idempotency_key = request.headers.get("Idempotency-Key") or None
        signal, created = signal_create(
            owner=request.user,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            idempotency_key=idempotency_key[:IDEMPOTENCY_KEY_MAX_LENGTH]
            if idempotency_key
            else None,
            **body.validated_data,
        )
        if created:
            signal_received(signal)
        return Response(
            signal_payload(signal),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            headers={} if created else {"Idempotent-Replayed": "true"},
        )


class SignalExportView(SignalListView):
    """GET trading-signals/export.csv: the list as CSV whatever the Accept header says."""

    http_method_names = ["get", "head", "options"]
    renderer_classes = [CsvRenderer]

    @extend_schema(parameters=[SignalFilterSerializer], responses={(200, "text/csv"): CSV})
    def get(self, request):
        return super().get(request)


class SignalDetailView(APIView):
    permission_classes = [scoped("signals")]

    @extend_schema(
        parameters=[ExecutionPageSerializer, TOTAL_COUNT],
        responses=SignalDetailSerializer,
        description="The signal and a page of its executions (limit/offset); X-Total-Count "
        "counts all its executions.",
    )
    def get(self, request, signal_id):
        query = query_of(ExecutionPageSerializer, request)
        signal = get_object_or_404(TradingSignal, pk=signal_id, owner=request.user)
        page = page_of(signal.executions.select_related("agent"), **query)
        return Response(
            {
                **SignalSerializer(signal).data,
                "executions": SignalExecutionSerializer(page.rows, many=True).data,
            },
            headers={TOTAL_COUNT_HEADER: str(page.total)},
        )
