from django.contrib import admin, messages
from django.core.paginator import Paginator

from agents.admin import AgentAdmin
from agents.models import Agent
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from trading.models import (
    Balance,
    BalanceSnapshot,
    ClosedTrade,
    CloseReason,
    EquityPeak,
    KillSwitch,
    KillSwitchMode,
    LiveSwap,
    ManualBuy,
    Position,
    PositionStatus,
    RiskPause,
    Transaction,
)
from trading.risk_selectors import trading_halted
from trading.risk_services import kill_switch_set, risk_pause_end
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


@admin.register(LiveSwap)
class LiveSwapAdmin(LedgerAdmin):
    """Live swaps as the chain decided them; a pending one is decided by its action's next
    attempt or by reconcile, never by hand."""

    list_display = ["id", "wallet", "side", "mint", "status", "reason", "signature", "created_at"]
    list_filter = ["status", "side", "reason"]
    search_fields = ["signature", "action_key", "mint", "wallet__address"]
    list_select_related = ["wallet"]
    exclude = ["signed_transaction"]


@admin.register(ManualBuy)
class ManualBuyAdmin(LedgerAdmin):
    list_display = ["id", "agent", "idempotency_key", "token_address", "sol_amount", "created_at"]
    search_fields = ["idempotency_key", "token_address", "agent__name"]
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


# --- Risk guards and the kill switch ------------------------------------------------------------


class RiskPauseInline(admin.TabularInline):
    """The agent's pauses on its page: why its buys stopped, and when they resume."""

    model = RiskPause
    extra = 0
    can_delete = False
    fields = ["reason", "started_at", "until", "ended_at", "end_note", "details"]
    readonly_fields = fields
    ordering = ["-started_at"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


# The agent's page shows its pauses too: the agents app's admin, with this app's inline.
admin.site.unregister(Agent)


@admin.register(Agent)
class AgentWithPausesAdmin(AgentAdmin):
    inlines = [*AgentAdmin.inlines, RiskPauseInline]


class ActivePauseFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("ended", "Ended")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(RiskPause)
class RiskPauseAdmin(admin.ModelAdmin):
    """Every pause a risk guard recorded, with its reason and figures; ending one resumes
    the agent's buys (a drawdown pause also restarts the equity peak)."""

    list_display = ["id", "agent", "reason", "started_at", "until", "ended_at", "end_note"]
    list_filter = ["reason", ActivePauseFilter]
    search_fields = ["agent__name", "agent__owner__email"]
    list_select_related = ["agent"]
    readonly_fields = [f.name for f in RiskPause._meta.fields]
    actions = ["end_pauses"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="End selected pauses (resume buys)")
    def end_pauses(self, request, queryset):
        ended = 0
        for pause in queryset.filter(ended_at__isnull=True):
            risk_pause_end(pause=pause, note=f"ended by {request.user.email} in the admin")
            ended += 1
        self.message_user(request, f"Ended {ended} pause(s).")


@admin.register(KillSwitch)
class KillSwitchAdmin(admin.ModelAdmin):
    """The global kill switch: one row, added the first time an operator sets it; change its
    mode in the form or with the actions."""

    list_display = ["mode", "set_by", "set_at", "note"]
    fields = ["mode", "note", "set_by", "set_at"]
    readonly_fields = ["set_by", "set_at"]
    actions = ["halt", "reduce_only", "switch_off"]

    def has_add_permission(self, request):
        return not KillSwitch.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Through the service, so who set it and when are always recorded.
        switch = kill_switch_set(mode=obj.mode, user=request.user, note=obj.note)
        obj.pk, obj.set_by, obj.set_at = switch.pk, switch.set_by, switch.set_at

    def _set(self, request, mode: str) -> None:
        kill_switch_set(mode=mode, user=request.user, note=f"set in the admin by {request.user}")
        self.message_user(
            request,
            f"Kill switch: {KillSwitchMode(mode).label}.",
            messages.WARNING if mode != KillSwitchMode.OFF else messages.SUCCESS,
        )

    @admin.action(description="HALT: no buys and no sells")
    def halt(self, request, queryset):
        self._set(request, KillSwitchMode.HALT)

    @admin.action(description="Reduce only: sells only")
    def reduce_only(self, request, queryset):
        self._set(request, KillSwitchMode.REDUCE_ONLY)

    @admin.action(description="Switch off: trade normally")
    def switch_off(self, request, queryset):
        self._set(request, KillSwitchMode.OFF)


@admin.register(EquityPeak)
class EquityPeakAdmin(admin.ModelAdmin):
    list_display = ["wallet", "peak_sol", "peak_at"]
    list_select_related = ["wallet"]
    readonly_fields = ["wallet", "peak_sol", "peak_at"]

    def has_add_permission(self, request):
        return False
