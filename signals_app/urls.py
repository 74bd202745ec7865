"""The signals app's pages (an agent's page with its decisions, the signals page, the system
page, the AI strategist's decisions and model) and API (trading signals, the strategist)."""

from django.urls import path

from signals_app import api, signal_views, strategist_api, strategist_views, system_views, views

urlpatterns = [
    path("agents/<int:agent_id>/", views.agent_detail, name="dashboard-agent"),
]

# The signals and system pages (signals_app.signal_views, signals_app.system_views).
urlpatterns += [
    path("signals/", signal_views.signals_page, name="dashboard-signals"),
    path("system/", system_views.system_page, name="dashboard-system"),
    path("system/kill-switch", system_views.kill_switch_page, name="dashboard-kill-switch"),
]

# The AI strategist's pages (signals_app.strategist_views).
urlpatterns += [
    path(
        "agents/<int:agent_id>/decisions",
        strategist_views.decisions_page,
        name="dashboard-agent-decisions",
    ),
    path(
        "settings/ai-strategist", strategist_views.llm_settings_page, name="dashboard-llm-settings"
    ),
    path(
        "settings/ai-strategist/remove",
        strategist_views.llm_remove_page,
        name="dashboard-llm-remove",
    ),
]

api_urlpatterns = [
    path("trading-signals", api.SignalListView.as_view(), name="signal-list"),
    path("trading-signals/export.csv", api.SignalExportView.as_view(), name="signal-export"),
    path("trading-signals/<int:signal_id>", api.SignalDetailView.as_view(), name="signal-detail"),
    path(
        "agents/<int:agent_id>/decisions",
        strategist_api.DecisionListView.as_view(),
        name="agent-decisions",
    ),
    path(
        "agents/<int:agent_id>/decisions/<int:cycle_id>",
        strategist_api.DecisionDetailView.as_view(),
        name="agent-decision-detail",
    ),
    path("llm-credential", strategist_api.LlmCredentialView.as_view(), name="llm-credential"),
]
