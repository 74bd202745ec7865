"""The wallets app's API: an agent's wallets, live wallets created or imported, assigned, and
their keys exported. Unassign and reset touch the ledger: trading/urls.py routes them."""

from django.urls import path, re_path

from wallets import api

api_urlpatterns = [
    path("agents/<int:agent_id>/wallets", api.AgentWalletsView.as_view(), name="agent-wallets"),
    # With or without the slash, as api.md writes it ("POST wallets/") and as agents/ answers.
    re_path(r"^wallets/?$", api.WalletsView.as_view(), name="wallets"),
    path("wallets/<str:address>/assign", api.WalletAssignView.as_view(), name="wallet-assign"),
    path("wallets/<str:address>/export", api.WalletExportView.as_view(), name="wallet-export"),
]
