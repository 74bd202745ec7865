"""The synthetic market on its own: mints, pool arithmetic, rugs, the random walk, thread safety."""

import threading
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from solders.pubkey import Pubkey

from localnet.market import QuoteError, SyntheticMarket
from tests.localnet.support import (
    SOL_RESERVE_RAW,
    TOKEN_RESERVE_RAW,
    WSOL,
    constant_product_out,
    price_impact,
)


def test_generated_mints_are_on_curve_pubkeys_repeated_by_the_seed():
    first, again, other = SyntheticMarket(seed=3), SyntheticMarket(seed=3), SyntheticMarket(seed=4)
    mints = [first.add_token(symbol=f"T{i}", price_sol=Decimal("0.01")) for i in range(3)]

    assert mints == [again.add_token(symbol=f"T{i}", price_sol=Decimal("0.01")) for i in range(3)]
    assert other.add_token(symbol="T0", price_sol=Decimal("0.01")) != mints[0]
    for mint in mints:
        key = Pubkey.from_string(mint)
        assert len(bytes(key)) == 32 and key.is_on_curve()


def test_mints_do_not_depend_on_walk_steps_taken_before():
    walked = SyntheticMarket(seed=5)
    walked.add_token(symbol="A", price_sol=Decimal("0.01"))
    walked.step(10)
    fresh = SyntheticMarket(seed=5)
    fresh.add_token(symbol="A", price_sol=Decimal("0.01"))

    assert walked.add_token(symbol="B", price_sol=Decimal(1)) == fresh.add_token(
        symbol="B", price_sol=Decimal(1)
    )


def test_given_mint_is_kept_and_duplicates_refused(market):
    mint = str(Pubkey.new_unique())
    assert market.add_token(symbol="X", price_sol=Decimal(1), mint=mint) == mint
    with pytest.raises(ValueError):
        market.add_token(symbol="Y", price_sol=Decimal(1), mint=mint)
    with pytest.raises(ValueError):
        market.add_token(symbol="SOL", price_sol=Decimal(1), mint=WSOL)


@pytest.mark.parametrize("bad", [0.001, Decimal(0), Decimal(-1), Decimal("NaN"), "abc"])
def test_prices_must_be_positive_exact_numbers(market, token, bad):
    with pytest.raises(ValueError):
        market.set_price(token, bad)


def test_token_snapshot_carries_its_fields(market, token):
    market.set_price(token, Decimal("0.002"))
    snapshot = market.token(token)

    assert (snapshot.symbol, snapshot.name, snapshot.decimals) == ("TEST", "Test Token", 6)
    assert snapshot.price_sol == Decimal("0.002") == market.price_sol(token)
    assert snapshot.liquidity_sol == Decimal("500")
    assert market.tokens() == [token]


def test_buy_quote_is_the_constant_product_output_net_of_the_pool_fee(market, token):
    quote = market.quote(WSOL, token, 10**9)

    # 500,000 tokens x 0.9975 SOL / 500.9975 SOL, in 6-decimal raw units, rounded down.
    assert int(quote["outAmount"]) == 995_513_949
    assert int(quote["outAmount"]) == constant_product_out(
        10**9, SOL_RESERVE_RAW, TOKEN_RESERVE_RAW
    )


def test_sell_quote_is_the_constant_product_output_net_of_the_pool_fee(market, token):
    amount = 12_345 * 10**6
    quote = market.quote(token, WSOL, amount)

    assert int(quote["outAmount"]) == constant_product_out(
        amount, TOKEN_RESERVE_RAW, SOL_RESERVE_RAW
    )
    assert Decimal(quote["priceImpactPct"]) == pytest.approx(
        price_impact(amount, TOKEN_RESERVE_RAW), abs=Decimal("1e-12")
    )


def test_exact_out_charges_the_smallest_input_that_buys_the_output(market, token):
    wanted = 1_000 * 10**6
    quote = market.quote(WSOL, token, wanted, slippage_bps=100, swap_mode="ExactOut")
    paid = int(quote["inAmount"])

    assert quote["outAmount"] == str(wanted)
    assert constant_product_out(paid, SOL_RESERVE_RAW, TOKEN_RESERVE_RAW) >= wanted
    assert constant_product_out(paid - 1, SOL_RESERVE_RAW, TOKEN_RESERVE_RAW) < wanted
    # For ExactOut the threshold is the most the swap may take in.
    assert int(quote["otherAmountThreshold"]) == paid + paid * 100 // 10_000


def test_exact_out_cannot_drain_the_pool(market, token):
    with pytest.raises(QuoteError) as raised:
        market.quote(WSOL, token, TOKEN_RESERVE_RAW, swap_mode="ExactOut")
    assert raised.value.code == "COULD_NOT_FIND_ANY_ROUTE"


def test_quoting_leaves_the_market_unchanged(market, token):
    first = market.quote(WSOL, token, 50 * 10**9)
    market.quote(token, WSOL, 10**12)

    assert market.price_sol(token) == Decimal("0.001")
    assert market.quote(WSOL, token, 50 * 10**9)["outAmount"] == first["outAmount"]


def test_rug_keeps_the_price_but_removes_the_route(market, token):
    market.rug(token)

    assert market.token(token).liquidity_sol < 1
    assert market.price_sol(token) == Decimal("0.001")
    for pair in [(WSOL, token), (token, WSOL)]:
        with pytest.raises(QuoteError) as raised:
            market.quote(*pair, 10**6)
        assert raised.value.code == "COULD_NOT_FIND_ANY_ROUTE"


def test_liquidity_drives_price_impact(market, token):
    shallow = Decimal(market.quote(WSOL, token, 10**9)["priceImpactPct"])
    market.set_liquidity(token, Decimal("5000"))
    deep = Decimal(market.quote(WSOL, token, 10**9)["priceImpactPct"])

    assert deep < shallow / 9


def _walk(seed: int, steps: int = 20) -> list[list[Decimal]]:
    """Every token's price after each step of a walk over five tokens listed at 0.001 SOL."""
    market = SyntheticMarket(seed=seed)
    mints = [market.add_token(symbol=f"T{i}", price_sol=Decimal("0.001")) for i in range(5)]
    path = []
    for _ in range(steps):
        market.step(1.0)
        path.append([market.price_sol(mint) for mint in mints])
    return path


def test_walk_repeats_with_the_seed_and_differs_across_seeds():
    assert _walk(11) == _walk(11)
    assert _walk(11) != _walk(12)


def test_walk_moves_prices_a_few_percent_per_step():
    path = _walk(11, steps=40)
    moves = [
        abs(Fraction(after) / Fraction(before) - 1)
        for previous, current in pairwise(path)
        for before, after in zip(previous, current, strict=True)
    ]

    assert all(isinstance(price, Decimal) and price > 0 for price in path[-1])
    assert Fraction(1, 100) < sum(moves) / len(moves) < Fraction(5, 100)
    assert max(moves) <= Fraction(1, 2)


def test_demo_tokens_are_listed_and_routable():
    market = SyntheticMarket(seed=2)
    mints = market.add_demo_tokens(4)

    assert market.tokens() == mints
    for mint in mints:
        assert market.token(mint).routable
        assert int(market.quote(WSOL, mint, 10**8)["outAmount"]) > 0


def test_concurrent_writers_neither_lose_nor_duplicate_tokens():
    market = SyntheticMarket(seed=9)
    mints: list[str] = []

    def add_many():
        for _ in range(50):
            mint = market.add_token(symbol="C", price_sol=Decimal("0.01"))
            market.set_price(mint, Decimal("0.02"))
            market.step(0.1)
            mints.append(mint)

    threads = [threading.Thread(target=add_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(mints)) == 400
    assert sorted(market.tokens()) == sorted(mints)


def test_token_boosts_list_the_latest_and_the_most_boosted(market):
    import requests

    from localnet.serving import LocalnetServer

    first = market.add_token(symbol="ONE", price_sol=Decimal("0.001"))
    second = market.add_token(symbol="TWO", price_sol=Decimal("0.001"))
    market.boost(first, 10)
    market.boost(second, 30)
    market.boost(first, 5)
    server = LocalnetServer(market).start()
    try:
        latest = requests.get(f"{server.url}/token-boosts/latest/v1", timeout=5).json()
        top = requests.get(f"{server.url}/token-boosts/top/v1", timeout=5).json()
    finally:
        server.stop()

    assert [(b["tokenAddress"], b["amount"], b["totalAmount"]) for b in latest] == [
        (first, 5, 15),
        (second, 30, 30),
    ]
    assert [b["tokenAddress"] for b in top] == [second, first]
    assert {b["chainId"] for b in top} == {"solana"}
