from django.urls import path
from rest_framework.routers import SimpleRouter

from agents import api as agents_api
from prices import api as prices_api
from signals_app import api as signals_api
from trading import api as trading_api
from trading import risk_api
from trading.strategy_api import StrategyPreviewView


class OptionalSlashRouter(SimpleRouter):
    """Routes answer with or without the trailing slash, like the other /api/v1 paths."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("agents", agents_api.AgentViewSet, basename="agent")
router.register("api-keys", agents_api.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("auth/login", agents_api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", agents_api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", agents_api.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", agents_api.MeView.as_view(), name="auth-me"),
    path(
        "agents/config-schema",
        agents_api.AgentConfigSchemaView.as_view(),
        name="agent-config-schema",
    ),
    path("agents/<int:agent_id>/config", agents_api.AgentConfigView.as_view(), name="agent-config"),
    path(
        "agents/<int:agent_id>/balances", trading_api.BalancesView.as_view(), name="agent-balances"
    ),
    path(
        "agents/<int:agent_id>/transactions",
        trading_api.TransactionsView.as_view(),
        name="agent-transactions",
    ),
    path(
        "agents/<int:agent_id>/positions",
        trading_api.PositionsView.as_view(),
        name="agent-positions",
    ),
    path(
        "agents/<int:agent_id>/positions/<int:position_id>/close",
        trading_api.PositionCloseView.as_view(),
        name="position-close",
    ),
    path(
        "agents/<int:agent_id>/closed-trades",
        trading_api.ClosedTradesView.as_view(),
        name="agent-closed-trades",
    ),
    path("trading-signals", signals_api.SignalListView.as_view(), name="signal-list"),
    path(
        "trading-signals/export.csv",
        signals_api.SignalExportView.as_view(),
        name="signal-export",
    ),
    path(
        "trading-signals/<int:signal_id>",
        signals_api.SignalDetailView.as_view(),
        name="signal-detail",
    ),
    path("strategy/preview", StrategyPreviewView.as_view(), name="strategy-preview"),
    *risk_api.urlpatterns,
    *prices_api.urlpatterns,
    *router.urls,
]
