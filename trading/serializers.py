from rest_framework import serializers

from nexgent import money
from trading.models import ClosedTrade, Transaction, TransactionType


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


class TransferSerializer(serializers.Serializer):
    """A deposit or withdrawal of virtual SOL on the simulation wallet."""

    type = serializers.ChoiceField(choices=[TransactionType.DEPOSIT, TransactionType.WITHDRAWAL])
    amount = serializers.DecimalField(
        max_digits=money.AMOUNT_MAX_DIGITS,
        decimal_places=money.AMOUNT_PLACES,
        min_value=money.to_decimal("0.000000001"),
    )


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
