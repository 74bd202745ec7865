"""The trading app's pages (the overview) and API (balances, ledger, positions, closed trades,
performance and balance history, strategy preview, risk guards and the kill switch, the wallet
actions that touch the ledger, check-deposits)."""

from django.urls import path

from trading import api, risk_api, views, wallet_api
from trading.strategy_api import StrategyPreviewView

urlpatterns = [
    path("", views.home, name="dashboard-home"),
]

api_urlpatterns = [
    path("agents/<int:agent_id>/balances", api.BalancesView.as_view(), name="agent-balances"),
    path(
        "agents/<int:agent_id>/transactions",
        api.TransactionsView.as_view(),
        name="agent-transactions",
    ),
    path("agents/<int:agent_id>/positions", api.PositionsView.as_view(), name="agent-positions"),
    path(
        "agents/<int:agent_id>/positions/<int:position_id>/close",
        api.PositionCloseView.as_view(),
        name="position-close",
    ),
    path(
        "agents/<int:agent_id>/closed-trades",
        api.ClosedTradesView.as_view(),
        name="agent-closed-trades",
    ),
    path(
        "agents/<int:agent_id>/performance",
        api.PerformanceView.as_view(),
        name="agent-performance",
    ),
    path(
        "agents/<int:agent_id>/balance-history",
        api.BalanceHistoryView.as_view(),
        name="agent-balance-history",
    ),
    path("agents/<int:agent_id>/shadow", api.ShadowReportView.as_view(), name="agent-shadow"),
    path(
        "agents/<int:agent_id>/shadow/trades",
        api.ShadowTradesView.as_view(),
        name="agent-shadow-trades",
    ),
    path("trades/execute", api.TradeExecuteView.as_view(), name="trade-execute"),
    path("strategy/preview", StrategyPreviewView.as_view(), name="strategy-preview"),
    path("agents/<int:agent_id>/risk", risk_api.AgentRiskView.as_view(), name="agent-risk"),
    path(
        "agents/<int:agent_id>/risk/pauses/<int:pause_id>/end",
        risk_api.RiskPauseEndView.as_view(),
        name="agent-risk-pause-end",
    ),
    path("risk/kill-switch", risk_api.KillSwitchView.as_view(), name="kill-switch"),
    path(
        "wallets/<str:address>/unassign",
        wallet_api.WalletUnassignView.as_view(),
        name="wallet-unassign",
    ),
    path("wallets/<str:address>/reset", wallet_api.WalletResetView.as_view(), name="wallet-reset"),
    path(
        "wallets/<str:address>/check-deposits",
        wallet_api.WalletCheckDepositsView.as_view(),
        name="wallet-check-deposits",
    ),
]
