"""Jupiter over HTTP: the Metis v1 quote and Price v3 contracts of external-apis.md §1."""

import json
from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from tests.localnet.support import (
    SOL_RESERVE_RAW,
    TOKEN_RESERVE_RAW,
    WSOL,
    constant_product_out,
    price_impact,
)

QUOTE = "/swap/v1/quote"
PRICE = "/price/v3"


def _quote(get, input_mint, output_mint, amount, **params):
    response = get(
        QUOTE, {"inputMint": input_mint, "outputMint": output_mint, "amount": amount, **params}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_quote_has_every_required_field_with_the_real_types(get, token):
    quote = _quote(get, WSOL, token, 10**9)

    for name in (
        "inputMint",
        "inAmount",
        "outputMint",
        "outAmount",
        "otherAmountThreshold",
        "priceImpactPct",
    ):
        assert isinstance(quote[name], str), name
    assert (quote["inputMint"], quote["outputMint"], quote["inAmount"]) == (
        WSOL,
        token,
        "1000000000",
    )
    assert quote["swapMode"] == "ExactIn"
    assert quote["slippageBps"] == 50
    assert quote["platformFee"] is None
    assert isinstance(quote["contextSlot"], int)
    assert isinstance(quote["timeTaken"], float)
    (step,) = quote["routePlan"]
    assert step["percent"] == 100
    info = step["swapInfo"]
    assert {"ammKey", "label", "inputMint", "outputMint", "inAmount", "outAmount"} <= info.keys()
    assert Pubkey.from_string(info["ammKey"])
    assert (info["inAmount"], info["outAmount"]) == (quote["inAmount"], quote["outAmount"])


def test_buy_and_sell_amounts_follow_the_constant_product_pool(get, token):
    buy = _quote(get, WSOL, token, 3 * 10**9)
    sell = _quote(get, token, WSOL, 7_000 * 10**6)

    assert int(buy["outAmount"]) == constant_product_out(
        3 * 10**9, SOL_RESERVE_RAW, TOKEN_RESERVE_RAW
    )
    assert int(sell["outAmount"]) == constant_product_out(
        7_000 * 10**6, TOKEN_RESERVE_RAW, SOL_RESERVE_RAW
    )


@pytest.mark.parametrize("slippage_bps", [0, 1, 50, 100, 333, 10_000])
def test_other_amount_threshold_is_out_less_floored_slippage(get, token, slippage_bps):
    quote = _quote(get, WSOL, token, 1_234_567_891, slippageBps=slippage_bps)
    out = int(quote["outAmount"])

    assert quote["slippageBps"] == slippage_bps
    assert int(quote["otherAmountThreshold"]) == out - (out * slippage_bps) // 10_000


def test_price_impact_is_a_ratio_that_grows_with_size(get, token):
    sizes = [10**6, 10**8, 10**9, 10 * 10**9, 100 * 10**9]
    impacts = [Decimal(_quote(get, WSOL, token, size)["priceImpactPct"]) for size in sizes]

    assert impacts == sorted(impacts) and len(set(impacts)) == len(impacts)
    # 100 SOL into a 500 SOL pool moves the price about 17%: a ratio of 0.166, not 16.6.
    assert impacts[-1] == pytest.approx(
        price_impact(100 * 10**9, SOL_RESERVE_RAW), abs=Decimal("1e-12")
    )
    assert Decimal("0.16") < impacts[-1] < Decimal("0.17")


def test_bigger_buys_get_fewer_tokens_per_sol(get, token):
    small = _quote(get, WSOL, token, 10**9)
    large = _quote(get, WSOL, token, 50 * 10**9)

    assert int(large["outAmount"]) < 50 * int(small["outAmount"])


def test_buying_then_selling_loses_value_to_impact_and_fees(get, token):
    spent = 20 * 10**9
    bought = int(_quote(get, WSOL, token, spent)["outAmount"])
    returned = int(_quote(get, token, WSOL, bought)["outAmount"])

    assert returned < spent
    assert returned == constant_product_out(bought, TOKEN_RESERVE_RAW, SOL_RESERVE_RAW)


def test_exact_out_quotes_the_input_for_a_fixed_output(get, token):
    quote = _quote(get, token, WSOL, 10**9, swapMode="ExactOut", slippageBps=100)
    paid = int(quote["inAmount"])

    assert (quote["swapMode"], quote["outAmount"]) == ("ExactOut", "1000000000")
    assert constant_product_out(paid, TOKEN_RESERVE_RAW, SOL_RESERVE_RAW) >= 10**9
    assert int(quote["otherAmountThreshold"]) == paid + paid * 100 // 10_000


def test_legacy_and_routing_params_are_accepted_and_recorded(get, market, token):
    params = {
        "restrictIntermediateTokens": "true",
        "onlyDirectRoutes": "false",
        "dexes": "Raydium,Orca V2",
        "maxAccounts": "64",
        "autoSlippage": "true",
        "minimizeSlippage": "true",
    }
    _quote(get, WSOL, token, 10**9, **params)

    (recorded,) = market.recorded("jupiter_quote")
    assert recorded.path == QUOTE
    assert recorded.query["amount"] == ["1000000000"]
    assert recorded.query["dexes"] == ["Raydium,Orca V2"]


def _error(response, status=400):
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def test_unknown_token_has_no_route(get):
    unknown = str(Pubkey.new_unique())
    body = _error(get(QUOTE, {"inputMint": WSOL, "outputMint": unknown, "amount": 1000}))

    assert body == {"error": "Could not find any route", "errorCode": "COULD_NOT_FIND_ANY_ROUTE"}


def test_token_to_token_has_no_route(get, market, token):
    other = market.add_token(symbol="OTHER", price_sol=Decimal("0.5"))
    body = _error(get(QUOTE, {"inputMint": token, "outputMint": other, "amount": 1000}))

    assert body["errorCode"] == "COULD_NOT_FIND_ANY_ROUTE"


def test_rugged_token_has_no_route(get, market, token):
    market.rug(token)
    body = _error(get(QUOTE, {"inputMint": token, "outputMint": WSOL, "amount": 10**6}))

    assert body["errorCode"] == "COULD_NOT_FIND_ANY_ROUTE"


def test_equal_mints_are_circular_arbitrage(get, token):
    body = _error(get(QUOTE, {"inputMint": token, "outputMint": token, "amount": 1000}))

    assert body["errorCode"] == "CIRCULAR_ARBITRAGE_IS_DISABLED"


@pytest.mark.parametrize(
    ("amount", "kind"),
    [
        ("1.5", "InvalidDigit"),
        ("abc", "InvalidDigit"),
        ("-5", "InvalidDigit"),
        ("", "Empty"),
        (str(2**64), "PosOverflow"),
    ],
)
def test_unparsable_amount_is_rejected_like_jupiter(get, token, amount, kind):
    body = _error(get(QUOTE, {"inputMint": WSOL, "outputMint": token, "amount": amount}))

    assert body == {
        "error": f"Query parameter amount cannot be parsed: ParseIntError {{ kind: {kind} }}"
    }


def test_largest_u64_amount_parses(get, token):
    response = get(QUOTE, {"inputMint": WSOL, "outputMint": token, "amount": str(2**64 - 1)})

    assert response.status_code == 200


@pytest.mark.parametrize("missing", ["inputMint", "outputMint", "amount"])
def test_missing_required_param_is_400(get, token, missing):
    params = {"inputMint": WSOL, "outputMint": token, "amount": "1000"}
    del params[missing]

    assert missing in _error(get(QUOTE, params))["error"]


def test_bad_mint_and_swap_mode_are_400(get, token):
    assert _error(get(QUOTE, {"inputMint": "not-a-mint", "outputMint": token, "amount": 1}))[
        "error"
    ]
    assert _error(
        get(QUOTE, {"inputMint": WSOL, "outputMint": token, "amount": 1, "swapMode": "Both"})
    )


def _prices(get, *mints):
    response = get(PRICE, {"ids": ",".join(mints)})
    assert response.status_code == 200, response.text
    # Parse numbers exactly, to compare them with the market's Decimals.
    return json.loads(response.text, parse_float=Decimal)


def test_price_v3_is_a_map_of_usd_numbers_keyed_by_mint(get, market, token):
    market.set_price(token, Decimal("0.00123"))
    market.set_sol_usd(Decimal("142.5"))
    entry = _prices(get, token)[token]

    assert isinstance(entry["usdPrice"], Decimal)  # a JSON number, not a string
    assert entry["usdPrice"] == Decimal("0.00123") * Decimal("142.5")
    assert entry["decimals"] == 6
    assert entry["liquidity"] == 2 * 500 * Decimal("142.5")
    assert isinstance(entry["blockId"], int)
    assert isinstance(entry["priceChange24h"], Decimal)
    assert entry["priceChange24h"] == Decimal("23")  # 0.001 -> 0.00123 since listing
    assert entry["createdAt"].endswith("Z")


def test_price_v3_omits_unknown_and_rugged_mints(get, market, token):
    rugged = market.add_token(symbol="RUG", price_sol=Decimal("0.01"))
    market.rug(rugged)
    unknown = str(Pubkey.new_unique())

    prices = _prices(get, unknown, token, rugged, "not-even-base58")

    assert list(prices) == [token]


def test_price_v3_answers_empty_object_when_nothing_is_priced(get):
    assert _prices(get, str(Pubkey.new_unique())) == {}


def test_price_v3_prices_wsol_at_sol_usd(get, market):
    market.set_sol_usd(Decimal("171.25"))
    entry = _prices(get, WSOL)[WSOL]

    assert entry["usdPrice"] == Decimal("171.25")
    assert entry["decimals"] == 9
    assert entry["priceChange24h"] == Decimal("14.1667")  # from 150 when the market opened


def test_price_v3_takes_at_most_50_ids(get, market):
    mints = market.add_demo_tokens(51)

    assert len(_prices(get, *mints[:50])) == 50
    response = get(PRICE, {"ids": ",".join(mints)})
    assert response.status_code == 400
    assert "error" in response.json()


def test_price_v3_requires_ids(get):
    assert get(PRICE).status_code == 400
