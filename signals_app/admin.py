from django.contrib import admin

from signals_app.models import SignalExecution, TradingSignal


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
