"""The trading app's pages (the overview, a position, closed trades, transactions) and API (balances, ledger, positions, closed trades,
performance and balance history, strategy preview, risk guards and the kill switch, the wallet
actions that touch the ledger, check-deposits)."""

from django.urls import path

from trading import api, config_views, risk_api, risk_views, views, wallet_api, wallet_views
from trading.strategy_api import StrategyPreviewView

urlpatterns = [
    path("", views.home, name="dashboard-home"),
    path(
        "agents/<int:agent_id>/positions/<int:position_id>",
        views.position_detail,
        name="dashboard-position",
    ),
    path(
        "agents/<int:agent_id>/positions/<int:position_id>/close",
        views.position_close_page,
        name="dashboard-position-close",
    ),
    path(
        "agents/<int:agent_id>/risk/pauses/<int:pause_id>/end",
        risk_views.risk_pause_end_page,
        name="dashboard-risk-pause-end",
    ),
    path("agents/<int:agent_id>/trades", views.closed_trades, name="dashboard-trades"),
    path("agents/<int:agent_id>/trades.csv", views.closed_trades_csv, name="dashboard-trades-csv"),
    path(
        "agents/<int:agent_id>/transactions",
        views.transactions,
        name="dashboard-transactions",
    ),
    path(
        "agents/<int:agent_id>/transactions.csv",
        views.transactions_csv,
        name="dashboard-transactions-csv",
    ),
]

# An agent's config and wallet pages (trading.config_views, trading.wallet_views).
_wallet = "agents/<int:agent_id>/wallet"
urlpatterns += [
    path(
        "agents/<int:agent_id>/config",
        config_views.agent_config_page,
        name="dashboard-agent-config",
    ),
    path(_wallet, wallet_views.agent_wallet, name="dashboard-agent-wallet"),
    path(
        f"{_wallet}/transfer", wallet_views.wallet_transfer, name="dashboard-agent-wallet-transfer"
    ),
    path(
        f"{_wallet}/create", wallet_views.live_wallet_create, name="dashboard-agent-wallet-create"
    ),
    path(
        f"{_wallet}/import", wallet_views.live_wallet_import, name="dashboard-agent-wallet-import"
    ),
    path(
        f"{_wallet}/<str:address>/assign",
        wallet_views.live_wallet_assign,
        name="dashboard-agent-wallet-assign",
    ),
    path(
        f"{_wallet}/<str:address>/unassign",
        wallet_views.live_wallet_unassign,
        name="dashboard-agent-wallet-unassign",
    ),
    path(
        f"{_wallet}/<str:address>/check-deposits",
        wallet_views.live_wallet_check,
        name="dashboard-agent-wallet-check",
    ),
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
