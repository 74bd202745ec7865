from django.contrib import admin

from wallets.models import AgentWallet, WalletReconcile


@admin.register(AgentWallet)
class AgentWalletAdmin(admin.ModelAdmin):
    """Read-only: wallets are opened, created, imported and assigned by the engine's services
    (the API), and the encrypted key fields are never shown, not even as ciphertext."""

    list_display = ["id", "address", "agent", "mode", "owner", "created_at"]
    list_filter = ["mode"]
    search_fields = ["address", "agent__name"]
    list_select_related = ["agent", "owner"]
    fields = ["address", "agent", "mode", "owner", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting a live wallet would delete its key and the ledger that mirrors the chain.
        return False


@admin.register(WalletReconcile)
class WalletReconcileAdmin(admin.ModelAdmin):
    """Each live wallet's latest reconcile, read-only: written by reconcile (the schedule,
    POST wallets/{address}/check-deposits, `manage.py reconcile`). Drift is shown, never
    fixed here: only a person can tell what it was (docs/decisions.md, Reconcile)."""

    list_display = [
        "wallet",
        "has_drift",
        "trade_in_flight",
        "error",
        "checked_at",
        "succeeded_at",
        "slot",
    ]
    list_filter = ["has_drift"]
    search_fields = ["wallet__address"]
    list_select_related = ["wallet", "wallet__agent"]
    fields = [
        "wallet",
        "checked_at",
        "succeeded_at",
        "slot",
        "has_drift",
        "trade_in_flight",
        "error",
        "balances",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
