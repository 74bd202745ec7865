"""Injected faults, delays and the request log: how tests make the services misbehave."""

import time
from decimal import Decimal

import pytest
import requests

from tests.localnet.support import SOL_USD_FEED, WSOL

QUOTE = "/swap/v1/quote"


def _quote_params(token):
    return {"inputMint": WSOL, "outputMint": token, "amount": 10**9}


def test_jupiter_429_carries_rate_limit_headers_then_recovers(get, market, token):
    market.inject_fault("jupiter_quote", status=429, count=2)
    before = int(time.time())

    limited = [get(QUOTE, _quote_params(token)) for _ in range(2)]
    recovered = get(QUOTE, _quote_params(token))

    for response in limited:
        assert response.status_code == 429
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert int(response.headers["x-ratelimit-reset"]) >= before
        assert response.json()["statusCode"] == 429
    assert recovered.status_code == 200
    assert int(recovered.json()["outAmount"]) > 0


def test_jupiter_500_is_a_json_error_then_recovers(get, market, token):
    market.inject_fault("jupiter_price", status=500)

    failed = get("/price/v3", {"ids": token})
    recovered = get("/price/v3", {"ids": token})

    assert failed.status_code == 500
    assert failed.json() == {"error": "Internal Server Error"}
    assert list(recovered.json()) == [token]


def test_faults_hit_only_their_service(get, market, token):
    market.inject_fault("dexscreener", status=503)

    assert get(QUOTE, _quote_params(token)).status_code == 200
    assert get(f"/tokens/v1/solana/{token}").status_code == 503
    assert get(f"/tokens/v1/solana/{token}").status_code == 200


def test_hermes_faults_are_plain_text(get, market):
    market.inject_fault("hermes", status=429)

    response = get("/v2/updates/price/latest", {"ids[]": SOL_USD_FEED})

    assert response.status_code == 429
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "Too Many Requests"


def test_injected_delay_trips_a_client_timeout_once(localnet, market, token):
    market.inject_delay("jupiter_quote", 1.0)
    url = f"{localnet.url}{QUOTE}"

    with pytest.raises(requests.Timeout):
        requests.get(url, params=_quote_params(token), timeout=0.2)
    assert requests.get(url, params=_quote_params(token), timeout=0.5).status_code == 200


def test_unknown_service_or_non_error_status_is_refused(market):
    with pytest.raises(ValueError):
        market.inject_fault("jupiter_perps", status=500)
    with pytest.raises(ValueError):
        market.inject_fault("hermes", status=200)
    with pytest.raises(ValueError):
        market.inject_delay("nowhere", 1.0)


def test_requests_are_recorded_per_service_with_their_query(get, market, token):
    get(QUOTE, {**_quote_params(token), "slippageBps": 75})
    get("/price/v3", {"ids": f"{token},{WSOL}"})
    get("/v2/updates/price/latest", [("ids[]", SOL_USD_FEED), ("ids[]", SOL_USD_FEED)])
    get("/_localnet/state")

    services = [request.service for request in market.recorded()]
    assert services == ["jupiter_quote", "jupiter_price", "hermes"]
    (quote,) = market.recorded("jupiter_quote")
    assert quote.query["slippageBps"] == ["75"]
    (prices,) = market.recorded("jupiter_price")
    assert prices.query == {"ids": [f"{token},{WSOL}"]}
    (hermes,) = market.recorded("hermes")
    assert hermes.query["ids[]"] == [SOL_USD_FEED, SOL_USD_FEED]

    market.clear_recorded()
    assert market.recorded() == []


def test_refused_requests_are_recorded_too(get, market, token):
    market.inject_fault("jupiter_quote", status=500)
    get(QUOTE, _quote_params(token))
    market.set_price(token, Decimal("0.002"))

    assert len(market.recorded("jupiter_quote")) == 1


def test_a_fault_may_carry_retry_after(get, market, token):
    market.inject_fault("dexscreener", status=429, retry_after=60)

    response = get(f"/tokens/v1/solana/{token}")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"


def test_a_malformed_answer_is_a_200_that_is_not_json(get, market, token, post):
    market.inject_malformed("jupiter_price")
    assert post("/_localnet/fault", {"service": "hermes", "status": "malformed"}).ok

    broken = get("/price/v3", {"ids": token})
    broken_hermes = get("/v2/updates/price/latest", {"ids[]": SOL_USD_FEED})

    for response in (broken, broken_hermes):
        assert response.status_code == 200
        with pytest.raises(ValueError):
            response.json()
    assert token in get("/price/v3", {"ids": token}).json()


def test_pending_faults_and_delays_can_be_cleared(get, market, token):
    market.inject_fault("jupiter_price", status=500, count=5)
    market.inject_delay("hermes", 5.0)
    market.clear_faults()

    assert get("/price/v3", {"ids": token}).status_code == 200
    started = time.monotonic()
    assert get("/v2/updates/price/latest", {"ids[]": SOL_USD_FEED}).status_code == 200
    assert time.monotonic() - started < 2


def test_jupiter_may_require_its_x_api_key(localnet, market, token, post):
    assert post("/_localnet/api_key", {"service": "jupiter_price", "key": "k1"}).ok
    url = f"{localnet.url}/price/v3"

    refused = requests.get(url, params={"ids": token}, timeout=5)
    accepted = requests.get(url, params={"ids": token}, headers={"x-api-key": "k1"}, timeout=5)

    assert (refused.status_code, refused.json()) == (401, {"error": "Unauthorized"})
    assert "x-ratelimit-remaining" not in refused.headers
    assert accepted.status_code == 200
    post("/_localnet/api_key", {"service": "jupiter_price", "key": None})
    assert requests.get(url, params={"ids": token}, timeout=5).status_code == 200


def test_hermes_takes_a_bearer_token_or_access_token(localnet, market):
    market.require_api_key("hermes", "pyth")
    url = f"{localnet.url}/v2/updates/price/latest"
    params = {"ids[]": SOL_USD_FEED}

    refused = requests.get(url, params=params, timeout=5)
    bearer = requests.get(url, params=params, headers={"Authorization": "Bearer pyth"}, timeout=5)
    query = requests.get(url, params={**params, "ACCESS_TOKEN": "pyth"}, timeout=5)

    assert (refused.status_code, refused.text) == (401, "Unauthorized")
    assert bearer.status_code == query.status_code == 200


def test_the_time_each_service_spends_answering_is_counted_until_cleared(get, market, token):
    market.clear_recorded()
    market.set_latency("jupiter_quote", 0.05)

    assert get(QUOTE, _quote_params(token)).status_code == 200
    assert get(QUOTE, _quote_params(token)).status_code == 200
    get("/_localnet/state")  # a control route is no service's time

    served = market.served_seconds()
    assert set(served) == {"jupiter_quote"}
    assert 0.1 <= served["jupiter_quote"] < 5
    market.clear_recorded()
    assert market.served_seconds() == {}
