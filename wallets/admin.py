from django.contrib import admin

from wallets.models import AgentWallet


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
