"""The AI strategist's API shapes: an agent's cycles with their decisions (reason codes with
their words beside them), and the operator's model, whose key is written but never read."""

from decimal import Decimal
from urllib.parse import urlsplit

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from nexgent import money
from nexgent.inputs import InputSerializer, NumberField
from nexgent.pages import PageQuerySerializer
from signals_app.models import (
    CycleStatus,
    LlmCredential,
    ResponseFormat,
    StrategistCycle,
    StrategistDecision,
)
from signals_app.reasons import reason_text

# A price per million tokens above this is a typo (the dearest models cost a few hundred USD).
MAX_USD_PER_MILLION_TOKENS = Decimal(1_000_000)
API_KEY_MAX_LENGTH = 500


class DecisionSerializer(serializers.ModelSerializer):
    verdict_reason_text = serializers.SerializerMethodField()
    outcome_reason_text = serializers.SerializerMethodField()

    class Meta:
        model = StrategistDecision
        fields = [
            "index",
            "action",
            "token_address",
            "size_sol",
            "stop_price",
            "take_profit_price",
            "confidence",
            "reasoning",
            "verdict",
            "verdict_reason",
            "verdict_reason_text",
            "verdict_details",
            "outcome",
            "outcome_reason",
            "outcome_reason_text",
            "signal",
            "position",
        ]

    def get_verdict_reason_text(self, decision) -> str:
        return reason_text(decision.verdict_reason)

    def get_outcome_reason_text(self, decision) -> str:
        return reason_text(decision.outcome_reason)


class CycleSerializer(serializers.ModelSerializer):
    """A cycle as listed: what was decided and why, without the prompt and the raw answer."""

    reason_text = serializers.SerializerMethodField()
    decisions = DecisionSerializer(many=True, read_only=True)

    class Meta:
        model = StrategistCycle
        fields = [
            "id",
            "slot",
            "status",
            "reason",
            "reason_text",
            "error",
            "model",
            "started_at",
            "finished_at",
            "latency_ms",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
            "inputs_digest",
            "reasoning",
            "decisions",
        ]

    def get_reason_text(self, cycle) -> str:
        return reason_text(cycle.reason)


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
        },
    }
)
class PromptField(serializers.JSONField):
    """The chat messages the model was sent."""


class CycleDetailSerializer(CycleSerializer):
    prompt = PromptField(read_only=True)

    class Meta(CycleSerializer.Meta):
        fields = [*CycleSerializer.Meta.fields, "prompt", "raw_answer"]


class CycleListSerializer(serializers.Serializer):
    cycles = CycleSerializer(many=True)


class CycleQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(
        choices=CycleStatus.values, required=False, help_text="Only cycles in this state."
    )


def validate_model_url(value: str) -> str:
    """An http(s) URL with a host. Not Django's URLValidator: a self-hosted model is often
    reached by a bare host name (http://ollama:11434/v1), which it refuses."""
    if any(character.isspace() or ord(character) < 32 for character in value):
        raise serializers.ValidationError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- reading it checks the port is a number in range
    except ValueError:
        raise serializers.ValidationError("is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise serializers.ValidationError("must be an http:// or https:// URL with a host")
    return value


def validate_api_key(value: str) -> str:
    # It travels in an HTTP header: a space or a line break there is a copy-paste accident.
    if any(character.isspace() or ord(character) < 32 for character in value):
        raise serializers.ValidationError("must not contain spaces or control characters")
    return value


def _usd_per_million(**kwargs) -> NumberField:
    return NumberField(
        max_digits=money.PRICE_MAX_DIGITS,
        decimal_places=money.PRICE_PLACES,
        min_value=Decimal(0),
        max_value=MAX_USD_PER_MILLION_TOKENS,
        required=False,
        default=Decimal(0),
        **kwargs,
    )


class LlmCredentialInputSerializer(InputSerializer):
    """The body of PUT llm-credential: the whole model, key included (it is never read back,
    so every save sends it)."""

    base_url = serializers.CharField(
        max_length=300, validators=[validate_model_url], help_text="The OpenAI-compatible API."
    )
    model = serializers.CharField(max_length=100)
    api_key = serializers.CharField(
        max_length=API_KEY_MAX_LENGTH,
        validators=[validate_api_key],
        write_only=True,
        style={"input_type": "password"},
    )
    response_format = serializers.ChoiceField(
        choices=ResponseFormat.choices, required=False, default=ResponseFormat.JSON_SCHEMA
    )
    input_usd_per_million_tokens = _usd_per_million()
    output_usd_per_million_tokens = _usd_per_million()


class LlmCredentialSerializer(serializers.ModelSerializer):
    """The operator's model as read back: never the key, only that one is set."""

    api_key_set = serializers.SerializerMethodField()

    class Meta:
        model = LlmCredential
        fields = [
            "base_url",
            "model",
            "response_format",
            "input_usd_per_million_tokens",
            "output_usd_per_million_tokens",
            "api_key_set",
            "updated_at",
        ]

    def get_api_key_set(self, credential) -> bool:
        return bool(credential.encrypted_key)
