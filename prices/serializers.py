"""Output shapes of the market endpoints. Prices travel as strings, times as ISO 8601 UTC."""

from rest_framework import serializers

from nexgent import money


class PriceString(serializers.DecimalField):
    """A price as a plain decimal string with the trailing zeros trimmed (Hermes' exponent
    scaling leaves them)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=None, decimal_places=None, **kwargs)

    def to_representation(self, value):
        return money.as_str(value)


class SolUsdSerializer(serializers.Serializer):
    price = PriceString(
        allow_null=True,
        help_text="SOL/USD, or null when unknown. Never a default or a guess.",
    )
    updated_at = serializers.DateTimeField(
        allow_null=True, help_text="Pyth's publish time of this price."
    )
    is_stale = serializers.BooleanField(
        help_text="True when the price is unknown or older than stale_seconds: buys that need "
        "it are refused and Jupiter prices are not converted with it."
    )
    source = serializers.CharField(
        allow_null=True, help_text="hermes_stream or hermes_rest; null when unknown."
    )


class ProviderStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_error_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    requests_in_window = serializers.IntegerField(
        help_text="Requests sent within the budget's sliding window."
    )
    budget = serializers.IntegerField(
        allow_null=True, help_text="Requests allowed per window; null when not limited here."
    )
    window_seconds = serializers.IntegerField()
    cooldown_until = serializers.DateTimeField(
        allow_null=True, help_text="Set when the provider asked for a pause (429 Retry-After)."
    )


class StreamStateSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="connecting, connected or reconnecting.")
    since = serializers.DateTimeField()
    last_event_at = serializers.DateTimeField(allow_null=True)


class TickSerializer(serializers.Serializer):
    finished_at = serializers.DateTimeField()
    tracked_tokens = serializers.IntegerField()
    stale_tokens = serializers.IntegerField(
        help_text="Tracked tokens without a fresh price after the tick."
    )


class DataSourcesSerializer(serializers.Serializer):
    price_source = serializers.CharField()
    stale_seconds = serializers.IntegerField()
    providers = ProviderStatusSerializer(many=True)
    sol_usd = SolUsdSerializer()
    hermes_stream = StreamStateSerializer(
        allow_null=True, help_text="null when no price_stream process is running."
    )
    last_tick = TickSerializer(allow_null=True)
