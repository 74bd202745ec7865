"""The prices app's API: SOL/USD and the state of every market-data source."""

from django.urls import path

from prices import api

api_urlpatterns = [
    path("prices/sol-usd", api.SolUsdView.as_view(), name="prices-sol-usd"),
    path("data-sources/status", api.DataSourcesView.as_view(), name="data-sources-status"),
]
