from django.contrib import admin, messages
from django.core.paginator import Paginator

from agents.risk_selectors import trading_halted
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from trading.models import (
    Balance,
    BalanceSnapshot,
    ClosedTrade,
    CloseReason,
    Position,
    PositionStatus,
    Transaction,
)
from trading.services import position_close


class CappedPaginator(Paginator):
    """Big ledger tables: never COUNT(*) more than this many rows for the page links."""

    CAP = 10_000

    @property
    def count(self):
        return len(self.object_list[: self.CAP])


class LedgerAdmin(admin.ModelAdmin):
    """Ledger rows are written by the executor only: read-only here."""

    paginator = CappedPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Balance)
class BalanceAdmin(LedgerAdmin):
    list_display = ["id", "wallet", "token_symbol", "token_address", "amount", "updated_at"]
    search_fields = ["token_address", "token_symbol", "wallet__address"]
    list_select_related = ["wallet"]


@admin.register(Position)
class PositionAdmin(LedgerAdmin):
    list_display = [
        "id",
        "agent",
        "token_symbol",
        "status",
        "purchase_price",
        "remaining_amount",
        "total_invested_sol",
        "stop_loss_percent",
        "dca_count",
        "take_profit_levels_hit",
        "opened_at",
        "close_reason",
    ]
    list_filter = ["status", "close_reason"]
    search_fields = ["token_address", "token_symbol", "agent__name"]
    list_select_related = ["agent"]
    actions = ["close_positions"]

    @admin.action(description="Close selected positions (sell everything at market)")
    def close_positions(self, request, queryset):
        if trading_halted():
            self.message_user(
                request, "Trading is halted by the kill switch: no sells.", messages.ERROR
            )
            return
        closed = 0
        for position in queryset.filter(status=PositionStatus.OPEN):
            try:
                if position_close(position_id=position.pk, reason=CloseReason.MANUAL) is not None:
                    closed += 1
            except (DomainError, ExternalServiceError) as exc:
                self.message_user(request, f"Position #{position.pk}: {exc}", messages.ERROR)
        self.message_user(request, f"Closed {closed} position(s).")


@admin.register(Transaction)
class TransactionAdmin(LedgerAdmin):
    list_display = [
        "id",
        "agent",
        "type",
        "input_symbol",
        "input_amount",
        "output_symbol",
        "output_amount",
        "price",
        "protocol_fee_sol",
        "network_fee_sol",
        "is_dca",
        "is_take_profit",
        "created_at",
    ]
    list_filter = ["type", "is_dca", "is_take_profit"]
    search_fields = ["input_mint", "output_mint", "tx_signature", "agent__name"]
    list_select_related = ["agent"]


@admin.register(ClosedTrade)
class ClosedTradeAdmin(LedgerAdmin):
    list_display = [
        "id",
        "agent",
        "token_symbol",
        "close_reason",
        "invested_sol",
        "received_sol",
        "profit_loss_sol",
        "change_percent",
        "closed_at",
    ]
    list_filter = ["close_reason"]
    search_fields = ["token_address", "token_symbol", "agent__name"]
    list_select_related = ["agent"]


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(LedgerAdmin):
    list_display = [
        "id",
        "wallet",
        "taken_at",
        "sol_balance",
        "positions_value_sol",
        "total_value_sol",
    ]
    list_select_related = ["wallet"]
