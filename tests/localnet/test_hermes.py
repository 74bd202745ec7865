"""Pyth Hermes over HTTP: /v2/updates/price/latest (external-apis.md §3.1)."""

import base64
import time
from decimal import Decimal

import pytest
import requests

from tests.localnet.support import SOL_USD_FEED

LATEST = "/v2/updates/price/latest"
BTC_USD_FEED = "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"
USDC_USD_FEED = "eaa020c61cc479712813461ce153894a96a6c00b21ed0cfc2798d1f9a9e9c94a"


@pytest.mark.parametrize(
    "asked",
    [SOL_USD_FEED, f"0x{SOL_USD_FEED}", f"0x{SOL_USD_FEED.upper()}", SOL_USD_FEED.upper()],
)
def test_any_id_form_is_answered_lowercase_without_0x(get, asked):
    response = get(LATEST, {"ids[]": asked})

    assert response.status_code == 200
    (update,) = response.json()["parsed"]
    assert update["id"] == SOL_USD_FEED


@pytest.mark.parametrize("key", ["ids[]", "ids%5B%5D", "ids%5b%5d"])
def test_brackets_may_be_literal_or_percent_encoded(localnet, key):
    response = requests.get(f"{localnet.url}{LATEST}?{key}=0x{SOL_USD_FEED}", timeout=5)

    assert response.status_code == 200
    assert response.json()["parsed"][0]["id"] == SOL_USD_FEED


def test_price_is_an_integer_string_with_expo_minus_8(get, market):
    market.set_sol_usd(Decimal("147.48"))
    before = int(time.time())
    body = get(LATEST, {"ids[]": SOL_USD_FEED}).json()
    (update,) = body["parsed"]
    price = update["price"]

    assert price["price"] == "14748000000"
    assert price["expo"] == -8
    assert Decimal(price["price"]).scaleb(price["expo"]) == Decimal("147.48")
    assert isinstance(price["conf"], str) and int(price["conf"]) > 0
    assert before <= price["publish_time"] <= int(time.time())
    assert update["ema_price"]["expo"] == -8
    assert isinstance(update["metadata"]["slot"], int)
    assert body["binary"]["encoding"] == "hex"
    (blob,) = body["binary"]["data"]
    assert bytes.fromhex(blob).startswith(b"PNAU")


def test_several_ids_repeat_the_parameter(get):
    response = get(LATEST, [("ids[]", SOL_USD_FEED), ("ids[]", f"0x{USDC_USD_FEED}")])

    assert [update["id"] for update in response.json()["parsed"]] == [SOL_USD_FEED, USDC_USD_FEED]


def test_unknown_id_is_a_plain_text_404(get):
    response = get(LATEST, [("ids[]", SOL_USD_FEED), ("ids[]", f"0x{BTC_USD_FEED}")])

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == f"Price ids not found: {BTC_USD_FEED}"


def test_unknown_ids_can_be_ignored(get):
    response = get(
        LATEST,
        [("ids[]", BTC_USD_FEED), ("ids[]", SOL_USD_FEED), ("ignore_invalid_price_ids", "true")],
    )

    assert response.status_code == 200
    assert [update["id"] for update in response.json()["parsed"]] == [SOL_USD_FEED]


def test_parsed_false_and_base64_encoding(get):
    body = get(LATEST, {"ids[]": SOL_USD_FEED, "parsed": "false", "encoding": "base64"}).json()

    assert "parsed" not in body
    assert body["binary"]["encoding"] == "base64"
    assert base64.b64decode(body["binary"]["data"][0]).startswith(b"PNAU")


@pytest.mark.parametrize(
    "params", [{}, {"ids[]": "0x1234"}, {"ids[]": SOL_USD_FEED, "parsed": "yes"}]
)
def test_malformed_queries_are_plain_text_400(get, params):
    response = get(LATEST, params)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")


def test_a_publish_lag_makes_hermes_answer_old_prices(get, post):
    assert post("/_localnet/hermes/lag", {"seconds": 90}).json() == {"publish_lag": 90}
    now = int(time.time())

    (update,) = get(LATEST, {"ids[]": SOL_USD_FEED}).json()["parsed"]

    assert now - 91 <= update["price"]["publish_time"] <= now - 89
    assert post("/_localnet/hermes/lag", {"seconds": -1}).status_code == 400
