from django.contrib import admin

from wallets.models import AgentWallet


@admin.register(AgentWallet)
class AgentWalletAdmin(admin.ModelAdmin):
    list_display = ["id", "agent", "mode", "address", "created_at"]
    list_filter = ["mode"]
    search_fields = ["address", "agent__name"]
    list_select_related = ["agent"]
    readonly_fields = ["agent", "mode", "address", "created_at"]

    def has_add_permission(self, request):
        # Wallets are opened by the engine with their agent (wallets.services); an empty form
        # with every field read-only could only save a wallet of no agent.
        return False
