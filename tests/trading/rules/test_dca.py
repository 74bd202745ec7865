from decimal import Decimal

import pytest

from tests.conformance import load
from tests.trading.rules.vectors import assert_matches, numbered
from trading.rules.config import DcaConfig, DcaLevel
from trading.rules.dca import average_after_buy, evaluate_dca

VECTORS = load("dca.json")
TRIGGERS = VECTORS["trigger_cases"]
AVERAGES = VECTORS["average_cases"]


def config_of(case: dict) -> DcaConfig:
    return DcaConfig(
        enabled=True,
        mode=case["mode"],
        levels=tuple(DcaLevel(drop, buy) for drop, buy in case.get("levels", [])),
        max_dca_count=int(case["max_dca_count"]),
        cooldown_seconds=int(case.get("cooldown_seconds", DcaConfig().cooldown_seconds)),
    )


@pytest.mark.parametrize(
    "case", TRIGGERS, ids=numbered(TRIGGERS, lambda c: f"{c['mode']}-{c['dca_count']}-{c['price']}")
)
def test_trigger_matches_the_dca_vectors(case):
    result = evaluate_dca(
        config_of(case),
        purchase_price=case["purchase_price"],
        remaining_amount=case["remaining_amount"],
        dca_count=int(case["dca_count"]),
        seconds_since_last_dca=case.get("seconds_since_last_dca"),
        price=case["price"],
    )

    actual = result._asdict()
    if result.level is not None:
        actual["level"] = [result.level.drop_percent, result.level.buy_percent]
    assert_matches(case["expected"], actual, VECTORS["tolerance"])


@pytest.mark.parametrize(
    "case", AVERAGES, ids=numbered(AVERAGES, lambda c: f"{c['existing_sol']}+{c['new_sol']}")
)
def test_average_after_a_buy_matches_the_dca_vectors(case):
    result = average_after_buy(
        case["existing_sol"], case["existing_tokens"], case["new_sol"], case["new_tokens"]
    )

    assert_matches(case["expected"], result._asdict(), VECTORS["tolerance"])


def evaluate(cfg: DcaConfig, **overrides):
    inputs = {
        "purchase_price": Decimal(1),
        "remaining_amount": Decimal(100),
        "dca_count": 0,
        "seconds_since_last_dca": None,
        "price": Decimal("0.5"),
    }
    return evaluate_dca(cfg, **(inputs | overrides))


def test_disabled_dca_never_buys():
    result = evaluate(DcaConfig(enabled=False))

    assert not result.trigger
    assert "disabled" in result.reason


def test_a_position_down_to_its_moon_bag_is_not_averaged_down():
    result = evaluate(DcaConfig(enabled=True), only_moon_bag_left=True)

    assert not result.trigger
    assert "moon bag" in result.reason


def test_cooldown_ends_exactly_at_cooldown_seconds():
    cfg = DcaConfig(enabled=True, cooldown_seconds=30)

    assert not evaluate(cfg, seconds_since_last_dca=Decimal("29.999999")).trigger
    assert evaluate(cfg, seconds_since_last_dca=Decimal(30)).trigger


def test_max_count_is_checked_before_cooldown():
    result = evaluate(
        DcaConfig(enabled=True, max_dca_count=1), dca_count=1, seconds_since_last_dca=Decimal(1)
    )

    assert "max count" in result.reason
