"""The signals app's pages (an agent's page, with its decisions) and API (trading signals)."""

from django.urls import path

from signals_app import api, views

urlpatterns = [
    path("agents/<int:agent_id>/", views.agent_detail, name="dashboard-agent"),
]

api_urlpatterns = [
    path("trading-signals", api.SignalListView.as_view(), name="signal-list"),
    path("trading-signals/export.csv", api.SignalExportView.as_view(), name="signal-export"),
    path("trading-signals/<int:signal_id>", api.SignalDetailView.as_view(), name="signal-detail"),
]
