"""The agents app's pages (login, logout, new agent, settings, API keys, notifications) and API (auth, agents, their config, API keys)."""

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
    path("agents/new", views.agent_new, name="dashboard-agent-new"),
    path("agents/<int:agent_id>/settings", views.agent_settings, name="dashboard-agent-settings"),
    path("agents/<int:agent_id>/settings/name", views.agent_rename, name="dashboard-agent-rename"),
    path(
        "agents/<int:agent_id>/settings/automation",
        views.agent_automation,
        name="dashboard-agent-automation",
    ),
    path("agents/<int:agent_id>/settings/mode", views.agent_mode, name="dashboard-agent-mode"),
    path("agents/<int:agent_id>/delete", views.agent_remove, name="dashboard-agent-delete"),
    path("api-keys/", views.api_keys, name="dashboard-api-keys"),
    path("api-keys/<int:key_id>/revoke", views.api_key_delete, name="dashboard-api-key-revoke"),
    path("settings/notifications", views.notifications, name="dashboard-notifications"),
    path(
        "settings/notifications/<int:channel_id>/delete",
        views.notification_channel_remove,
        name="dashboard-notification-delete",
    ),
    path(
        "settings/notifications/<int:channel_id>/test",
        views.notification_channel_send_test,
        name="dashboard-notification-test",
    ),
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
