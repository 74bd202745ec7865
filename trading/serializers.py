from rest_framework import serializers

from nexgent.inputs import IdField, InputSerializer, LimitField, MintField, SolAmountField
from nexgent.pages import PageQuerySerializer
from trading.models import (
    ClosedTrade,
    CloseReason,
    KillSwitchMode,
    LiveSwapStatus,
    PositionStatus,
    Transaction,
    TransactionType,
)


class TransactionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Transaction
        fields = [
            "id",
            "type",
            "input_mint",
            "input_symbol",
            "input_amount",
            "output_mint",
            "output_symbol",
            "output_amount",
            "price",
            "protocol_fee_sol",
            "network_fee_sol",
            "cost_basis_sol",
            "profit_loss_sol",
            "is_dca",
            "is_take_profit",
            "position",
            "signal",
            "tx_signature",
            "created_at",
        ]


class TransferSerializer(InputSerializer):
    """A deposit or withdrawal of virtual SOL on the simulation wallet."""

    type = serializers.ChoiceField(choices=[TransactionType.DEPOSIT, TransactionType.WITHDRAWAL])
    amount = SolAmountField()


class TimeRangeQuerySerializer(PageQuerySerializer):
    """A ledger list's page, newest first, between `from` (inclusive) and `to` (exclusive),
    ISO 8601 times or dates (UTC when no offset is given). Both are Python keywords, hence
    get_fields."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(required=False, help_text="Inclusive.")
        fields["to"] = serializers.DateTimeField(required=False, help_text="Exclusive.")
        return fields

    def validate(self, attrs):
        since, until = attrs.get("from"), attrs.get("to")
        if since is not None and until is not None and since >= until:
            raise serializers.ValidationError({"to": ["must be later than from"]})
        return attrs


class TransactionQuerySerializer(TimeRangeQuerySerializer):
    type = serializers.ChoiceField(choices=TransactionType.values, required=False)
    token = serializers.CharField(
        max_length=64, required=False, help_text="A mint: entries that moved this token."
    )
    position = IdField(required=False, help_text="Entries of this position.")
    signal = IdField(required=False, help_text="Entries of this signal's buys.")
    is_dca = serializers.BooleanField(required=False, allow_null=True, default=None)
    is_take_profit = serializers.BooleanField(required=False, allow_null=True, default=None)


class ClosedTradeQuerySerializer(TimeRangeQuerySerializer):
    """Closed trades by their close time. `format=csv` (or Accept: text/csv) exports them."""

    close_reason = serializers.ChoiceField(choices=CloseReason.choices, required=False)
    token = serializers.CharField(max_length=64, required=False, help_text="A mint.")


class TransactionListSerializer(serializers.Serializer):
    transactions = TransactionSerializer(many=True)


class ClosedTradeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClosedTrade
        fields = [
            "id",
            "position",
            "token_address",
            "token_symbol",
            "opened_at",
            "closed_at",
            "close_reason",
            "purchase_price",
            "sale_price",
            "tokens_bought",
            "invested_sol",
            "received_sol",
            "profit_loss_sol",
            "profit_loss_usd",
            "change_percent",
            "sol_usd",
        ]


class ClosedTradeListSerializer(serializers.Serializer):
    closed_trades = ClosedTradeSerializer(many=True)


# Output shapes of the payloads the selectors build (trading.selectors,
# trading.risk_selectors), for the OpenAPI schema. Decimals are plain strings.
def _decimal_string(help_text: str = "", **kwargs):
    text = (
        f"{help_text} A decimal as a plain string." if help_text else "A decimal as a plain string."
    )
    return serializers.CharField(help_text=text, **kwargs)


class BalanceSerializer(serializers.Serializer):
    token_address = serializers.CharField()
    token_symbol = serializers.CharField(allow_blank=True)
    amount = _decimal_string()


class BalanceListSerializer(serializers.Serializer):
    balances = BalanceSerializer(many=True)


class ClosedTradeSummarySerializer(serializers.Serializer):
    profit_loss_sol = _decimal_string()
    profit_loss_usd = _decimal_string(allow_null=True)
    change_percent = _decimal_string()
    received_sol = _decimal_string()
    invested_sol = _decimal_string()
    close_reason = serializers.ChoiceField(choices=CloseReason.choices)
    closed_at = serializers.DateTimeField()


class PositionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    agent_id = serializers.IntegerField()
    token_address = serializers.CharField()
    token_symbol = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=PositionStatus.values)
    purchase_price = _decimal_string()
    total_invested_sol = _decimal_string()
    total_tokens_bought = _decimal_string()
    remaining_amount = _decimal_string()
    realized_sol = _decimal_string()
    current_price = _decimal_string(allow_null=True)
    value_sol = _decimal_string(allow_null=True)
    unrealized_pnl_sol = _decimal_string(allow_null=True)
    unrealized_pnl_percent = _decimal_string(allow_null=True)
    stop_loss_percent = _decimal_string(allow_null=True)
    stop_price = _decimal_string(allow_null=True)
    peak_price = _decimal_string(allow_null=True)
    take_profit_levels_hit = serializers.IntegerField()
    moon_bag_activated = serializers.BooleanField()
    dca_count = serializers.IntegerField()
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.CharField(allow_null=True, allow_blank=True)
    closed_trade = ClosedTradeSummarySerializer(allow_null=True)


class PositionListSerializer(serializers.Serializer):
    positions = PositionSerializer(many=True)


class ManualBuySerializer(InputSerializer):
    """The body of POST trades/execute."""

    agent_id = IdField()
    token_address = MintField()
    sol_amount = SolAmountField(
        required=False, help_text="SOL to swap, fees on top; absent: sized by the agent's rules."
    )


class ManualBuyResultSerializer(serializers.Serializer):
    position = PositionSerializer()
    transaction = TransactionSerializer()


class KillSwitchSerializer(InputSerializer):
    mode = serializers.ChoiceField(choices=KillSwitchMode.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class KillSwitchStateSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=KillSwitchMode.choices)
    set_by = serializers.EmailField(allow_null=True)
    set_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField(allow_blank=True)


class PauseEndSerializer(InputSerializer):
    note = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class PauseSerializer(serializers.Serializer):
    pause_id = serializers.IntegerField()
    reason = serializers.CharField()
    started_at = serializers.DateTimeField()
    until = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    end_note = serializers.CharField(allow_blank=True)
    details = serializers.DictField()


class RiskReportSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()
    as_of = serializers.DateTimeField()
    buys_allowed = serializers.BooleanField()
    sells_allowed = serializers.BooleanField()
    blocked_reason = serializers.CharField(allow_null=True)
    kill_switch = KillSwitchStateSerializer()
    active_pauses = PauseSerializer(many=True)
    recent_pauses = PauseSerializer(many=True)
    guards = serializers.DictField(
        child=serializers.DictField(), help_text="Each guard's limit, figures and tripped flag."
    )


class ShadowSideSerializer(serializers.Serializer):
    sol = _decimal_string()
    tokens = _decimal_string()
    fees_sol = _decimal_string()


class ShadowQuotedSerializer(serializers.Serializer):
    sol = _decimal_string()
    tokens = _decimal_string()


class ShadowTradeSerializer(serializers.Serializer):
    signature = serializers.CharField()
    action = serializers.CharField(help_text="The action the swap was sent for.")
    side = serializers.ChoiceField(choices=["buy", "sell"])
    token_address = serializers.CharField()
    position_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=LiveSwapStatus.values)
    reason = serializers.CharField(allow_blank=True, help_text="Why a failed swap failed.")
    sent_at = serializers.DateTimeField()
    landing_ms = serializers.IntegerField(
        allow_null=True, help_text="From recorded (just before sending) to decided on chain."
    )
    quoted = ShadowQuotedSerializer()
    paper = ShadowSideSerializer(help_text="The simulated venue's fill of the same quote.")
    live = ShadowSideSerializer(allow_null=True, help_text="What the chain moved; null if never.")
    slippage_bps = _decimal_string(
        allow_null=True, help_text="Delivered short of the quote, in basis points of it."
    )
    fee_gap_sol = _decimal_string(allow_null=True, help_text="Live fees minus paper fees.")


class ShadowTradeListSerializer(serializers.Serializer):
    trades = ShadowTradeSerializer(many=True)


class ShadowPositionSerializer(serializers.Serializer):
    position_id = serializers.IntegerField()
    token_address = serializers.CharField()
    close_reason = serializers.ChoiceField(choices=CloseReason.choices)
    closed_at = serializers.DateTimeField()
    live_pnl_sol = _decimal_string()
    paper_pnl_sol = _decimal_string()
    gap_sol = _decimal_string(help_text="Live minus paper.")


class ShadowReportSerializer(serializers.Serializer):
    swaps = serializers.IntegerField()
    landed = serializers.IntegerField()
    pending = serializers.IntegerField()
    failed_by_reason = serializers.DictField(child=serializers.IntegerField())
    slippage_bps_average = _decimal_string(allow_null=True)
    landing_ms_median = serializers.IntegerField(allow_null=True)
    live_fees_sol = _decimal_string()
    paper_fees_sol = _decimal_string()
    pnl_gap_sol = _decimal_string(help_text="Live minus paper P/L over the closed positions.")
    closed_positions = ShadowPositionSerializer(many=True)


# --- Analytics (docs/analytics.md) ---------------------------------------------------------------

TIMEFRAME_CHOICES = ["24h", "7d", "30d", "all"]


class PerformanceQuerySerializer(serializers.Serializer):
    timeframe = serializers.ChoiceField(
        choices=TIMEFRAME_CHOICES, default="all", help_text="How far back the figures look."
    )


class BalanceHistoryQuerySerializer(PerformanceQuerySerializer):
    limit = LimitField(default=1000, help_text="At most this many points, the newest.")


class TradeFiguresSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    wins = serializers.IntegerField(help_text="Trades closed with a P/L above zero.")
    losses = serializers.IntegerField(help_text="Trades closed with a P/L below zero.")
    breakeven = serializers.IntegerField(help_text="Trades closed at exactly zero P/L.")
    gross_profit_sol = _decimal_string()
    gross_loss_sol = _decimal_string("The losing trades' losses summed, as a positive amount.")
    win_rate_percent = _decimal_string("Wins over all closed trades.", allow_null=True)
    profit_factor = _decimal_string("Gross profit over gross loss.", allow_null=True)
    average_return_percent = _decimal_string("Mean change percent.", allow_null=True)
    by_close_reason = serializers.DictField(child=serializers.IntegerField())


class PerformanceSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()
    trading_mode = serializers.CharField()
    timeframe = serializers.ChoiceField(choices=TIMEFRAME_CHOICES)
    since = serializers.DateTimeField(allow_null=True, help_text="Null for 'all'.")
    as_of = serializers.DateTimeField()
    sol_balance = _decimal_string()
    positions_value_sol = _decimal_string("Open positions at the latest prices.")
    equity_sol = _decimal_string("SOL balance plus open positions at the latest prices.")
    unrealised_pnl_sol = _decimal_string("Open positions' value less their cost.")
    realised_pnl_sol = _decimal_string("Sum of the P/L of trades closed in the timeframe.")
    trades = TradeFiguresSerializer()
    sharpe_ratio = _decimal_string(
        "Mean daily return over its sample deviation, not annualised.", allow_null=True
    )
    daily_returns = serializers.IntegerField(help_text="How many daily returns Sharpe used.")
    max_drawdown_sol = _decimal_string()
    max_drawdown_percent = _decimal_string()
    equity_points = serializers.IntegerField(help_text="Snapshots in the timeframe, plus now.")


class BalancePointSerializer(serializers.Serializer):
    t = serializers.DateTimeField()
    sol_balance = _decimal_string()
    positions_value_sol = _decimal_string()
    equity_sol = _decimal_string()


class BalanceHistorySerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()
    trading_mode = serializers.CharField()
    timeframe = serializers.ChoiceField(choices=TIMEFRAME_CHOICES)
    since = serializers.DateTimeField(allow_null=True, help_text="Null for 'all'.")
    truncated = serializers.BooleanField(help_text="Older points of the timeframe left out.")
    points = BalancePointSerializer(many=True, help_text="Oldest first.")
