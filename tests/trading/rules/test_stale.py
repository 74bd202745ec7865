from datetime import timedelta
from decimal import Decimal

import pytest

from tests.conformance import load
from tests.trading.rules.vectors import numbered
from trading.rules.config import StaleTradeConfig
from trading.rules.stale import held_long_enough, should_close_stale

CASES = load("stale_trade.json")["cases"]


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=numbered(
        CASES, lambda c: f"{c['price']}-age-{c['age_minutes']}-hold-{c['min_hold_minutes']}"
    ),
)
def test_close_decision_matches_the_stale_trade_vectors(case):
    cfg = StaleTradeConfig(
        min_hold_minutes=int(case["min_hold_minutes"]),
        min_profit_percent=case["min_profit_percent"],
        max_profit_percent=case["max_profit_percent"],
    )

    close = should_close_stale(
        cfg,
        purchase_price=case["purchase_price"],
        price=case["price"],
        age_minutes=case["age_minutes"],
    )

    assert close is case["expected_close"]


def test_disabled_stale_trade_never_closes():
    close = should_close_stale(
        StaleTradeConfig(enabled=False),
        purchase_price=Decimal(1),
        price=Decimal("1.05"),
        age_minutes=Decimal(600),
    )

    assert close is False


def test_held_long_enough_turns_true_exactly_at_the_minimum_hold():
    cfg = StaleTradeConfig(min_hold_minutes=60)

    assert not held_long_enough(cfg, timedelta(minutes=60) - timedelta(microseconds=1))
    assert held_long_enough(cfg, timedelta(minutes=60))
    assert held_long_enough(cfg, timedelta(days=3))
    assert not held_long_enough(cfg, timedelta(minutes=-5))
