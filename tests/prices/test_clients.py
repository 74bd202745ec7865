"""The provider clients against localnet: real contracts, batches, keys, exact Decimals."""

from decimal import Decimal

import pytest

from nexgent.http import ExternalServiceError
from prices import clients

WSOL = "So11111111111111111111111111111111111111112"


def _mints(market, count: int) -> list[str]:
    return [
        market.add_token(symbol=f"T{i}", price_sol=Decimal("0.001") * (i + 1)) for i in range(count)
    ]


def _ids_per_request(market, service: str) -> list[list[str]]:
    if service == "jupiter_price":
        return [r.query["ids"][0].split(",") for r in market.recorded(service)]
    return [r.path.rsplit("/", 1)[1].split(",") for r in market.recorded(service)]


# Jupiter Price v3


def test_jupiter_prices_go_in_batches_of_50(localnet, market):
    mints = _mints(market, 120)

    prices = clients.jupiter_prices(mints)

    batches = _ids_per_request(market, "jupiter_price")
    assert sorted(len(batch) for batch in batches) == [20, 50, 50]
    assert sorted(mint for batch in batches for mint in batch) == sorted(mints)
    assert set(prices) == set(mints)


def test_jupiter_usd_price_is_a_decimal_read_from_the_json_text(localnet, market, token):
    quote = clients.jupiter_prices([token])[token]

    assert isinstance(quote.usd, Decimal)
    # 0.01 SOL x 150 USD, sent as the JSON number 1.5.
    assert quote.usd == Decimal("1.5")
    assert quote.decimals == 6


def test_mints_jupiter_omits_are_absent(localnet, market, token):
    market.rug(token)  # too shallow to price: Jupiter omits it
    unknown = "4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R"

    assert clients.jupiter_prices([token, unknown]) == {}


def test_jupiter_key_goes_in_x_api_key_only_when_set(localnet, market, token, settings):
    market.require_api_key("jupiter_price", "secret-key")
    settings.JUPITER_API_KEY = ""
    with pytest.raises(ExternalServiceError, match="HTTP 401"):
        clients.jupiter_prices([token])

    settings.JUPITER_API_KEY = "secret-key"
    assert token in clients.jupiter_prices([token])


# DexScreener


def test_dexscreener_goes_in_batches_of_30_with_addresses_as_given(localnet, market):
    mints = _mints(market, 70)

    prices = clients.dexscreener_prices(mints)

    batches = _ids_per_request(market, "dexscreener")
    assert sorted(len(batch) for batch in batches) == [10, 30, 30]
    assert sorted(mint for batch in batches for mint in batch) == sorted(mints)
    assert set(prices) == set(mints)


def test_dexscreener_price_is_price_native_exactly(localnet, market, token):
    market.set_price(token, Decimal("0.0123456789"))

    price = clients.dexscreener_prices([token])[token]

    assert price.price_sol == Decimal("0.0123456789")
    assert price.price_usd == Decimal("0.0123456789") * 150


def _pair(base: str, quote: str, native: str, usd_liquidity, quote_liquidity, base_liquidity=1):
    return {
        "baseToken": {"address": base},
        "quoteToken": {"address": quote},
        "priceNative": native,
        "priceUsd": "1.5",
        "liquidity": {"usd": usd_liquidity, "base": base_liquidity, "quote": quote_liquidity},
    }


MINT = "4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def test_the_wsol_quoted_pair_with_most_usd_liquidity_gives_the_price():
    pairs = [
        _pair(MINT, WSOL, "0.011", Decimal("1000"), Decimal("3")),
        _pair(MINT, USDC, "1.52", Decimal("900000"), Decimal("450000")),  # not SOL
        _pair(WSOL, MINT, "90", Decimal("800000"), Decimal("7")),  # SOL is the base
        _pair(MINT, WSOL, "0.010", Decimal("500000"), Decimal("1666")),  # the deepest
        {"baseToken": "garbage"},
        _pair(MINT, WSOL, "not a number", Decimal("9999999"), Decimal("1")),  # unreadable
    ]

    price = clients.best_sol_price(MINT, pairs)

    assert price.price_sol == Decimal("0.010")


def test_no_wsol_quoted_pair_means_no_price():
    assert clients.best_sol_price(MINT, [_pair(MINT, USDC, "1.5", 1000, 500)]) is None


def test_liquidity_is_the_deepest_sol_side_over_both_orientations():
    pairs = [
        _pair(MINT, WSOL, "0.01", 1000, Decimal("12.5")),
        _pair(WSOL, MINT, "100", 1000, 0, base_liquidity=Decimal("40")),
        _pair(MINT, USDC, "1.5", 10**7, 10**6),
    ]

    assert clients.deepest_sol_liquidity(MINT, pairs) == Decimal("40")
    assert clients.deepest_sol_liquidity(MINT, [_pair(MINT, USDC, "1", 1, 1)]) == 0


def test_liquidity_sol_for_the_rug_check(localnet, market, token):
    rugged = market.add_token(symbol="RUG", price_sol=Decimal("0.02"))
    market.rug(rugged)
    unlisted = "4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R"

    depth = clients.liquidity_sol([token, rugged, unlisted])

    assert depth[token] == Decimal("5000")  # the main pool holds all of it
    assert depth[rugged] == Decimal("0.5")
    assert depth[unlisted] == 0  # no SOL pool at all: that is what a rug looks like


def test_a_liquidity_fetch_error_is_not_a_rug(localnet, market, token):
    market.inject_fault("dexscreener", status=503, count=3)

    with pytest.raises(ExternalServiceError):
        clients.liquidity_sol([token])


def test_a_failed_batch_leaves_only_its_mints_out(localnet, market):
    mints = _mints(market, 40)
    # The first batch sent (whichever it is) fails all three attempts; the other answers.
    market.inject_fault("dexscreener", status=500, count=3)

    depth = clients.liquidity_sol(mints)

    assert len(depth) in (10, 30)
    assert all(value > 0 for value in depth.values())


# Pyth Hermes


def test_hermes_price_is_int_price_times_ten_to_expo_exactly(localnet, market):
    market.set_sol_usd(Decimal("147.48"))

    value = clients.hermes_sol_usd()

    assert value.price == Decimal("147.48")
    assert value.source == "hermes_rest"
    assert value.published_at.tzinfo is not None


def test_hermes_bearer_key_sent_only_when_set(localnet, market, settings):
    market.require_api_key("hermes", "pyth-key")
    settings.PYTH_API_KEY = ""
    with pytest.raises(ExternalServiceError, match="HTTP 401"):
        clients.hermes_sol_usd()

    settings.PYTH_API_KEY = "pyth-key"
    assert clients.hermes_sol_usd().price == Decimal(150)


@pytest.mark.parametrize(
    "update",
    [
        [],
        {"parsed": []},
        {"parsed": [{"id": "ab" * 32, "price": {"price": "1", "expo": 0, "publish_time": 1}}]},
        {"parsed": [{"id": clients.SOL_USD_FEED_ID, "price": {"price": "1.5", "expo": -8}}]},
        {"parsed": [{"id": clients.SOL_USD_FEED_ID, "price": {"price": "-5", "expo": -8}}]},
    ],
)
def test_an_unusable_update_is_refused_never_guessed(update):
    with pytest.raises((ExternalServiceError, ValueError, KeyError)):
        clients.sol_usd_from_update(update, source="hermes_rest")


# Jupiter quote


def test_jupiter_quote_errors_carry_jupiters_code(localnet, market, token):
    market.rug(token)

    with pytest.raises(ExternalServiceError, match="COULD_NOT_FIND_ANY_ROUTE") as error:
        clients.jupiter_quote(input_mint=WSOL, output_mint=token, amount=10**9, slippage_bps=50)
    assert error.value.status == 400
    assert error.value.body["errorCode"] == "COULD_NOT_FIND_ANY_ROUTE"
