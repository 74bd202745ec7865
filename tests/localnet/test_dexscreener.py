"""DexScreener over HTTP: /tokens/v1 and the legacy /latest/dex/tokens (external-apis.md §2)."""

import json
from decimal import Decimal

import pytest
import requests
from solders.pubkey import Pubkey

from localnet.market import SyntheticMarket
from localnet.serving import LocalnetServer
from tests.localnet.support import WSOL


def _pairs(get, *mints, chain="solana"):
    response = get(f"/tokens/v1/{chain}/{','.join(mints)}")
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def _sol_pairs(pairs, mint):
    """The pools a client may price from: the token as base, quoted in SOL (nexgent's filter)."""
    return [
        pair
        for pair in pairs
        if pair["baseToken"]["address"] == mint and pair["quoteToken"]["address"] == WSOL
    ]


def test_pairs_have_the_real_field_types(get, token):
    pairs = _pairs(get, token)

    assert pairs
    for pair in pairs:
        assert pair["chainId"] == "solana"
        assert isinstance(pair["dexId"], str) and pair["url"].startswith(
            "https://dexscreener.com/solana/"
        )
        assert Pubkey.from_string(pair["pairAddress"])
        assert isinstance(pair["priceNative"], str) and isinstance(pair["priceUsd"], str)
        for side in ("usd", "base", "quote"):
            assert isinstance(pair["liquidity"][side], Decimal | int), side
        assert isinstance(pair["volume"]["h24"], Decimal | int)
        assert isinstance(pair["txns"]["h24"]["buys"], int)
        assert isinstance(pair["pairCreatedAt"], int)
        assert {pair["baseToken"]["address"], pair["quoteToken"]["address"]} == {token, WSOL}


def test_deepest_sol_pool_carries_the_market_price_and_liquidity(get, market, token):
    market.set_price(token, Decimal("0.0042"))
    market.set_sol_usd(Decimal("160"))
    pools = _sol_pairs(_pairs(get, token), token)

    assert len(pools) == 2  # the main pool and a smaller one
    deepest = max(pools, key=lambda pair: pair["liquidity"]["usd"])
    assert deepest["priceNative"] == "0.0042"
    assert Decimal(deepest["priceUsd"]) == Decimal("0.0042") * 160
    assert deepest["liquidity"]["quote"] == 500
    # Whole tokens in the pool: a JSON number, so rounded like any double.
    assert deepest["liquidity"]["base"] == pytest.approx(
        Decimal(500) / Decimal("0.0042"), rel=Decimal("1e-12")
    )
    assert deepest["liquidity"]["usd"] == 2 * 500 * 160
    assert deepest["baseToken"] == {"address": token, "name": "Test Token", "symbol": "TEST"}
    assert min(pool["liquidity"]["quote"] for pool in pools) < 500


def test_the_deepest_pool_is_not_simply_the_first(get, token):
    pairs = _pairs(get, token)

    assert pairs[0]["liquidity"]["usd"] < max(pair["liquidity"]["usd"] for pair in pairs)


def test_some_pair_lists_the_token_as_its_quote(get, token):
    reversed_pairs = [pair for pair in _pairs(get, token) if pair["quoteToken"]["address"] == token]

    assert reversed_pairs
    for pair in reversed_pairs:
        assert pair["baseToken"]["address"] == WSOL
        assert pair["priceNative"] == "1000"  # tokens per SOL at 0.001 SOL each


def test_rugged_token_still_listed_with_under_one_sol(get, market, token):
    market.rug(token)
    pools = _sol_pairs(_pairs(get, token), token)

    assert pools
    assert max(pool["liquidity"]["quote"] for pool in pools) < 1


def test_several_tokens_in_one_call_and_unknown_ones_skipped(get, market, token):
    other = market.add_token(symbol="OTHER", price_sol=Decimal("0.5"))
    unknown = str(Pubkey.new_unique())
    pairs = _pairs(get, token, unknown, other)

    assert _sol_pairs(pairs, token) and _sol_pairs(pairs, other)
    assert not any(
        unknown in (p["baseToken"]["address"], p["quoteToken"]["address"]) for p in pairs
    )


def test_unknown_token_is_an_empty_array(get):
    assert _pairs(get, str(Pubkey.new_unique())) == []


def test_other_chain_has_none_of_the_tokens(get, token):
    assert _pairs(get, token, chain="ethereum") == []


def test_at_most_30_addresses(get, market):
    mints = market.add_demo_tokens(31)

    assert len(_pairs(get, *mints[:30])) == 30 * len(_pairs(get, mints[0]))
    assert get(f"/tokens/v1/solana/{','.join(mints)}").status_code == 400
    assert get(f"/latest/dex/tokens/{','.join(mints)}").status_code == 400


def test_latest_dex_tokens_wraps_pairs_and_uses_null_for_none(get, token):
    found = get(f"/latest/dex/tokens/{token}").json()
    missing = get(f"/latest/dex/tokens/{Pubkey.new_unique()}").json()

    assert found["schemaVersion"] == "1.0.0"
    assert found["pairs"] == _pairs(get, token)
    assert missing == {"schemaVersion": "1.0.0", "pairs": None}


def test_percent_encoded_commas_separate_addresses(get, market, token):
    other = market.add_token(symbol="OTHER", price_sol=Decimal("0.5"))
    pairs = _pairs(get, f"{token}%2C{other}")

    assert _sol_pairs(pairs, token) and _sol_pairs(pairs, other)


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_300_requests_a_minute_then_429_until_the_window_slides():
    clock = _Clock()
    market = SyntheticMarket(clock=clock)
    with LocalnetServer(market) as server, requests.Session() as session:
        url = f"{server.url}/tokens/v1/solana/{Pubkey.new_unique()}"
        statuses = [session.get(url, timeout=5).status_code for _ in range(300)]
        clock.now += 30
        refused = session.get(url, timeout=5).status_code
        clock.now += 30.5  # the first 300 requests are now more than a minute old
        recovered = session.get(url, timeout=5).status_code

    assert statuses == [200] * 300
    assert refused == 429
    assert recovered == 200
