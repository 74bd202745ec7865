from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from nexgent.inputs import (
    MAX_LIMIT,
    MINT_PATTERN,
    CountField,
    IdField,
    InputSerializer,
    LimitField,
    OffsetField,
    validate_mint,
)
from nexgent.pages import PageQuerySerializer
from signals_app.models import ExecutionStatus, SignalAction, SignalExecution, TradingSignal
from signals_app.selectors import execution_summary

# Existing providers post the reference engine's camelCase bodies; both spellings are accepted.
CAMEL_TO_SNAKE = {
    "tokenAddress": "token_address",
    "signalType": "signal_type",
    "signalStrength": "signal_strength",
    "activationReason": "activation_reason",
}


def normalise_keys(data) -> dict:
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    return {CAMEL_TO_SNAKE.get(key, key): value for key, value in data.items()}


class SignalCreateSerializer(InputSerializer):
    """The body of POST trading-signals. The camelCase spellings of CAMEL_TO_SNAKE are
    accepted too (normalise_keys), so existing providers work unchanged."""

    token_address = serializers.RegexField(MINT_PATTERN, validators=[validate_mint])
    signal_type = serializers.CharField(max_length=50)
    # Absent strength counts as the weakest signal (1), which only default-scored agents take.
    signal_strength = CountField(min_value=1, max_value=5, default=1)
    symbol = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    activation_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000
    )
    source = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    action = serializers.ChoiceField(
        choices=SignalAction.choices, required=False, default=SignalAction.BUY
    )


class SignalExecutionSerializer(serializers.ModelSerializer):
    agent_name = serializers.CharField(source="agent.name", read_only=True)

    class Meta:
        model = SignalExecution
        fields = [
            "agent",
            "agent_name",
            "status",
            "reason",
            "details",
            "error",
            "transaction",
            "position",
            "created_at",
            "updated_at",
        ]


class SignalSerializer(serializers.ModelSerializer):
    class Meta:
        model = TradingSignal
        fields = [
            "id",
            "token_address",
            "symbol",
            "signal_type",
            "signal_strength",
            "activation_reason",
            "source",
            "action",
            "agent",
            "created_at",
            "processed_at",
        ]


_MOMENT = serializers.DateTimeField(read_only=True)


def signal_payload(signal: TradingSignal) -> dict:
    """What SignalSerializer(signal).data gives, built directly: every POST of a signal answers
    with it, and a ModelSerializer builds its fields anew on every use (a third of a
    millisecond of a POST's four). tests/signals/test_signal_api.py holds them equal."""
    return {
        "id": signal.pk,
        "token_address": signal.token_address,
        "symbol": signal.symbol,
        "signal_type": signal.signal_type,
        "signal_strength": signal.signal_strength,
        "activation_reason": signal.activation_reason,
        "source": signal.source,
        "action": signal.action,
        "agent": signal.agent_id,
        "created_at": _moment(signal.created_at),
        "processed_at": _moment(signal.processed_at),
    }


def _moment(value):
    return None if value is None else _MOMENT.to_representation(value)


class SignalDetailSerializer(SignalSerializer):
    executions = SignalExecutionSerializer(many=True, read_only=True)

    class Meta(SignalSerializer.Meta):
        fields = [*SignalSerializer.Meta.fields, "executions"]


class SignalListSerializer(SignalSerializer):
    """A listed signal: how its executions went, and the filtered agent's decision if any."""

    executions_summary = serializers.SerializerMethodField()

    class Meta(SignalSerializer.Meta):
        fields = [*SignalSerializer.Meta.fields, "executions_summary"]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "integer"}})
    def get_executions_summary(self, signal) -> dict:
        return execution_summary(signal)

    def to_representation(self, signal):
        data = super().to_representation(signal)
        if hasattr(signal, "agent_executions"):
            mine = signal.agent_executions
            data["agent_execution"] = SignalExecutionSerializer(mine[0]).data if mine else None
        return data


class _ListedSignalSchema(SignalListSerializer):
    """For the OpenAPI schema only: a listed signal, whose agent_execution is there only
    when the list is filtered by agent (SignalListSerializer.to_representation)."""

    agent_execution = SignalExecutionSerializer(
        required=False, allow_null=True, help_text="The filtered agent's decision, or null."
    )

    class Meta(SignalListSerializer.Meta):
        fields = [*SignalListSerializer.Meta.fields, "agent_execution"]


class SignalListResponseSerializer(serializers.Serializer):
    signals = _ListedSignalSchema(many=True)


class ExecutionPageSerializer(PageQuerySerializer):
    """A page of a signal's executions: all of them (up to the limit's bound) unless asked."""

    limit = LimitField(default=MAX_LIMIT, help_text="Executions in the answer, newest first.")


class SignalFilterSerializer(serializers.Serializer):
    """GET trading-signals query parameters. Times are ISO 8601; created_before is exclusive."""

    token_address = serializers.CharField(max_length=64, required=False)
    signal_type = serializers.CharField(max_length=50, required=False)
    source = serializers.CharField(max_length=100, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    status = serializers.ChoiceField(choices=ExecutionStatus.values, required=False)
    agent = IdField(required=False)
    limit = LimitField(required=False, help_text="Default 100 (JSON) or 1000 (CSV).")
    offset = OffsetField(default=0)

    def validate(self, attrs):
        after, before = attrs.get("created_after"), attrs.get("created_before")
        if after and before and after >= before:
            raise serializers.ValidationError(
                {"created_before": ["must be later than created_after"]}
            )
        return attrs
