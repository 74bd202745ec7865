"""GET /api/v1/prices/sol-usd and /api/v1/data-sources/status, and the gauges on /metrics."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from nexgent.http import ExternalServiceError
from prices import clients
from prices.services import sol_usd_refresh, sol_usd_store

pytestmark = pytest.mark.django_db

SOL_USD = "/api/v1/prices/sol-usd"
STATUS = "/api/v1/data-sources/status"


@pytest.fixture
def operator(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_unknown_sol_usd_is_200_with_null_and_stale(operator):
    response = operator.get(SOL_USD)

    assert response.status_code == 200
    assert response.json() == {
        "price": None,
        "updated_at": None,
        "is_stale": True,
        "source": None,
    }


def test_fresh_sol_usd(operator, localnet, market):
    market.set_sol_usd(Decimal("147.48"))
    published = sol_usd_refresh().published_at

    body = operator.get(SOL_USD).json()

    assert body["price"] == "147.48"
    assert body["is_stale"] is False
    assert body["source"] == "hermes_rest"
    assert datetime.fromisoformat(body["updated_at"].replace("Z", "+00:00")) == published


def test_a_stale_price_is_shown_as_stale(operator, settings):
    old = datetime.now(UTC) - timedelta(seconds=settings.PRICE_STALE_SECONDS + 5)
    sol_usd_store(clients.SolUsd(Decimal("150"), old, "hermes_stream"))

    body = operator.get(SOL_USD).json()

    assert (body["price"], body["is_stale"], body["source"]) == ("150", True, "hermes_stream")


def test_reading_never_calls_hermes(operator, localnet, market):
    operator.get(SOL_USD)
    operator.get(STATUS)

    assert market.recorded() == []


def test_an_api_key_of_any_scope_may_read(api_client, api_key):
    response = api_client.get(SOL_USD, HTTP_X_API_KEY=api_key)

    assert response.status_code == 200


def test_anonymous_is_refused(api_client):
    assert api_client.get(SOL_USD).status_code == 401
    assert api_client.get(STATUS).status_code == 401


def test_status_reports_each_provider(operator, localnet, market, token):
    started = time.time()
    market.inject_fault("hermes", status=500, count=3)
    with pytest.raises(ExternalServiceError):
        clients.hermes_sol_usd()
    clients.jupiter_prices([token])

    body = operator.get(STATUS).json()
    # The budget's sliding-window counter weighs the previous fixed window's count down as
    # time passes: exact only while every request and the read fell in one 10 s window.
    one_window = int(started // 10) == int(time.time() // 10)

    providers = {p["name"]: p for p in body["providers"]}
    assert set(providers) == {
        "jupiter_price",
        "dexscreener",
        "hermes",
        "jupiter_quote",
        "jupiter_tokens",
    }
    hermes = providers["hermes"]
    assert hermes["consecutive_failures"] == 1
    assert "HTTP 500" in hermes["last_error"]
    assert hermes["last_success_at"] is None
    assert (hermes["budget"], hermes["window_seconds"]) == (30, 10)
    jupiter = providers["jupiter_price"]
    assert jupiter["last_success_at"] is not None
    assert jupiter["consecutive_failures"] == 0
    if one_window:
        assert (hermes["requests_in_window"], jupiter["requests_in_window"]) == (3, 1)
    else:
        assert 0 <= hermes["requests_in_window"] <= 3 and 0 <= jupiter["requests_in_window"] <= 1
    assert providers["jupiter_quote"]["budget"] is None
    assert providers["jupiter_tokens"]["budget"] is None
    assert body["price_source"] == "jupiter"
    assert body["sol_usd"]["is_stale"] is True
    assert body["hermes_stream"] is None  # no price_stream running
    assert body["last_tick"] is None


def test_metrics_page_carries_the_market_data_gauges(client, localnet, market):
    market.inject_fault("hermes", status=500, count=3)
    with pytest.raises(ExternalServiceError):
        clients.hermes_sol_usd()

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert "nexgent_sol_usd_stale 1.0" in text
    assert 'nexgent_price_provider_consecutive_failures{provider="hermes"} 1.0' in text
    assert 'nexgent_price_provider_requests_total{outcome="server_error",provider="hermes"}' in text
