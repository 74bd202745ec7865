"""The wallets app's API: an agent's wallets, live wallets created or imported, assigned, and
their keys exported. Unassign and reset touch the ledger: trading/urls.py routes them."""

from django.urls import path

from wallets import api

api_urlpatterns = [
    path("agents/<int:agent_id>/wallets", api.AgentWalletsView.as_view(), name="agent-wallets"),
    path("wallets", api.WalletsView.as_view(), name="wallets"),
    path("wallets/<str:address>/assign", api.WalletAssignView.as_view(), name="wallet-assign"),
    path("wallets/<str:address>/export", api.WalletExportView.as_view(), name="wallet-export"),
]
