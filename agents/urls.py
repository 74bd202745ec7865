"""The agents app's pages (login, logout) and API (auth, agents, their config, API keys)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from agents import api, views

# No /api/v1 route ends in a slash (docs/decisions.md, API routes).
router = SimpleRouter(trailing_slash=False)
router.register("agents", api.AgentViewSet, basename="agent")
router.register("api-keys", api.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("login/", views.login_view, name="dashboard-login"),
    path("logout/", views.logout_view, name="dashboard-logout"),
]

api_urlpatterns = [
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", api.MeView.as_view(), name="auth-me"),
    path("agents/config-schema", api.AgentConfigSchemaView.as_view(), name="agent-config-schema"),
    path("agents/<int:agent_id>/config", api.AgentConfigView.as_view(), name="agent-config"),
    *router.urls,
]
