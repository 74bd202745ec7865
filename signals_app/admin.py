from django.contrib import admin

from signals_app.models import (
    LlmCredential,
    SignalExecution,
    StrategistCycle,
    StrategistDecision,
    TradingSignal,
)
from trading.admin import CappedPaginator


class SignalExecutionInline(admin.TabularInline):
    model = SignalExecution
    extra = 0
    can_delete = False
    fields = [
        "agent",
        "status",
        "reason",
        "details",
        "error",
        "transaction",
        "position",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TradingSignal)
class TradingSignalAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "owner",
        "symbol",
        "token_address",
        "signal_type",
        "signal_strength",
        "source",
        "created_at",
    ]
    list_filter = ["signal_type", "signal_strength"]
    search_fields = ["token_address", "symbol", "source", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = [f.name for f in TradingSignal._meta.fields]
    inlines = [SignalExecutionInline]


@admin.register(SignalExecution)
class SignalExecutionAdmin(admin.ModelAdmin):
    """Answers "why did agent X not buy?": every agent's decision with its reason."""

    list_display = ["id", "signal", "agent", "status", "reason", "details", "created_at"]
    list_filter = ["status", "reason"]
    search_fields = ["agent__name", "signal__token_address", "reason"]
    list_select_related = ["signal", "agent"]
    readonly_fields = [f.name for f in SignalExecution._meta.fields]


# --- The AI strategist --------------------------------------------------------------------------


@admin.register(LlmCredential)
class LlmCredentialAdmin(admin.ModelAdmin):
    """Operators' models. The key is encrypted and never shown; it is set on the dashboard
    (or PUT llm-credential), which encrypts it, so this page only lists and deletes."""

    list_display = ["owner", "model", "base_url", "response_format", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["owner__email", "model", "base_url"]
    fields = [
        "owner",
        "base_url",
        "model",
        "response_format",
        "input_usd_per_million_tokens",
        "output_usd_per_million_tokens",
        "updated_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StrategistDecisionInline(admin.TabularInline):
    model = StrategistDecision
    extra = 0
    can_delete = False
    fields = [
        "index",
        "action",
        "token_address",
        "size_sol",
        "stop_price",
        "take_profit_price",
        "confidence",
        "verdict",
        "verdict_reason",
        "outcome",
        "outcome_reason",
        "signal",
        "position",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StrategistRecordAdmin(admin.ModelAdmin):
    """What the strategist did is a record, written by its cycles only: read-only here, and
    never counted past the cap for the page links (one row per agent every few minutes)."""

    paginator = CappedPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StrategistCycle)
class StrategistCycleAdmin(StrategistRecordAdmin):
    list_display = [
        "id",
        "agent",
        "slot",
        "status",
        "reason",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "latency_ms",
        "started_at",
    ]
    list_filter = ["status", "reason"]
    search_fields = ["agent__name", "model"]
    list_select_related = ["agent"]
    readonly_fields = [f.name for f in StrategistCycle._meta.fields]
    inlines = [StrategistDecisionInline]


@admin.register(StrategistDecision)
class StrategistDecisionAdmin(StrategistRecordAdmin):
    list_display = [
        "id",
        "cycle",
        "action",
        "token_address",
        "size_sol",
        "verdict",
        "verdict_reason",
        "outcome",
        "outcome_reason",
    ]
    list_filter = ["action", "verdict", "outcome"]
    search_fields = ["token_address", "cycle__agent__name"]
    list_select_related = ["cycle", "cycle__agent"]
    readonly_fields = [f.name for f in StrategistDecision._meta.fields]
