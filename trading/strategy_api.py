"""POST /api/v1/strategy/preview: what a config's rules would do along a price path."""

import json
from decimal import Decimal

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import BaseParser, get_encoding
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.permissions import scoped
from nexgent import inputs
from nexgent.api import DomainError
from trading.backtest import (
    ACTION_KINDS,
    MAX_NETWORK_FEE_LAMPORTS,
    MAX_PROTOCOL_FEE_BPS,
    ReplayInputError,
    parse_preview_request,
    replay,
    result_json,
    simulated_venue_fees,
)

# 100,000 points of up to ~100 bytes each, plus the config: well past Django's 2.5 MB
# DATA_UPLOAD_MAX_MEMORY_SIZE, which is right for every other endpoint but not for this one.
MAX_BODY_BYTES = 16 * 1024 * 1024


def _bad_body(message: str) -> DomainError:
    return DomainError(
        message, code="validation_error", details=[{"field": "", "message": message}]
    )


class PreviewJSONParser(BaseParser):
    """JSON with numbers as Decimal, like the project's parser, under this view's own size cap.

    Not a JSONParser subclass on purpose: DRF reads the whole body through `request.body` for
    those, which enforces the global cap. Here the stream is read up to MAX_BODY_BYTES and
    anything longer, or malformed, is a 400 in the API's error format.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise _bad_body(f"the request body is larger than {MAX_BODY_BYTES} bytes")
        # get_encoding refuses byte codecs (bz2_codec...) that would inflate a small body.
        encoding = get_encoding(parser_context or {})
        try:
            return json.loads(raw.decode(encoding), parse_float=Decimal)
        except ValueError as exc:
            raise _bad_body(f"JSON parse error - {exc}") from None


# For the OpenAPI schema only: the body is checked by parse_preview_request, which names every
# bad field the way the rest of the API does.
_request = inline_serializer(
    "StrategyPreviewRequest",
    {
        "config": serializers.JSONField(required=False, help_text="partial agent config"),
        "buy_sol": inputs.SolAmountField(required=False, help_text="SOL for the first buy; 1"),
        "prices": inline_serializer(
            "PreviewPricePoint",
            {"t": serializers.DateTimeField(), "price": inputs.PriceField()},
            many=True,
            help_text="the first point is the buy",
        ),
        "fees": inline_serializer(
            "PreviewFees",
            {
                "protocol_fee_bps": inputs.CountField(
                    max_value=MAX_PROTOCOL_FEE_BPS, required=False
                ),
                "network_fee_lamports": inputs.CountField(
                    max_value=MAX_NETWORK_FEE_LAMPORTS, required=False
                ),
            },
            required=False,
            allow_null=True,
        ),
    },
)
_ACTION_FIELDS = {
    "index": serializers.IntegerField(),
    "t": serializers.DateTimeField(),
    "kind": serializers.ChoiceField(ACTION_KINDS),
    "price": serializers.CharField(),
    "tokens": serializers.CharField(),
    "sol": serializers.CharField(),
    "stop_loss_percent": serializers.CharField(allow_null=True),
    "stop_price": serializers.CharField(allow_null=True),
    "reason": serializers.CharField(),
}
_response = inline_serializer(
    "StrategyPreviewResponse",
    {
        "actions": inline_serializer("PreviewAction", _ACTION_FIELDS, many=True),
        "final": inline_serializer(
            "PreviewFinal",
            {
                "tokens_held": serializers.CharField(),
                "sol_invested": serializers.CharField(),
                "sol_received": serializers.CharField(),
                "profit_loss_sol": serializers.CharField(),
                "closed": serializers.BooleanField(),
                "close_reason": serializers.CharField(allow_null=True),
            },
        ),
    },
)


class StrategyPreviewView(APIView):
    """Reads and writes nothing: the config comes in the body, not from an agent."""

    permission_classes = [scoped("agents")]
    parser_classes = [PreviewJSONParser]

    @extend_schema(request=_request, responses={200: _response})
    def post(self, request):
        preview = parse_preview_request(request.data, venue_fees=simulated_venue_fees())
        try:
            result = replay(
                preview.rules, buy_sol=preview.buy_sol, prices=preview.prices, fees=preview.fees
            )
        except ReplayInputError as error:
            # Only a combination the parser cannot judge alone gets here: a buy too small
            # for even one unit of the token at the first price.
            raise DomainError(
                f"Invalid input: {error.field}",
                code="validation_error",
                details=[{"field": error.field, "message": error.message}],
            ) from None
        return Response(result_json(result))
