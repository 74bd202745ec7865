from decimal import Decimal

import pytest

from tests.conformance import close_enough, load
from tests.trading.rules.vectors import assert_matches, numbered
from trading.rules.config import StopLossConfig, TrailingLevel
from trading.rules.stop_loss import evaluate_stop_loss, target_stop_percent

CURVE = load("stop_loss_curve.json")
TICK = load("stop_loss_tick.json")


def config_of(case: dict) -> StopLossConfig:
    return StopLossConfig(
        mode=case["mode"],
        default_percentage=case["default_percentage"],
        trailing_levels=tuple(TrailingLevel(change, stop) for change, stop in case["levels"]),
    )


@pytest.mark.parametrize(
    "case",
    CURVE["cases"],
    ids=numbered(CURVE["cases"], lambda c: f"{c['mode']}-peak-{c['peak_change_percent']}"),
)
def test_target_stop_percent_matches_the_curve_vectors(case):
    target = target_stop_percent(config_of(case), case["peak_change_percent"])

    assert isinstance(target, Decimal)
    assert close_enough(target, case["expected_stop_loss_percent"], CURVE["tolerance"])


@pytest.mark.parametrize(
    "case", TICK["cases"], ids=numbered(TICK["cases"], lambda c: f"{c['mode']}-price-{c['price']}")
)
def test_one_tick_matches_the_tick_vectors(case):
    result = evaluate_stop_loss(
        config_of(case),
        purchase_price=case["purchase_price"],
        peak_price=case["peak_price"],
        current_stop_percent=case["current_stop_loss_percent"],
        price=case["price"],
    )

    assert_matches(case["expected"], result._asdict(), TICK["tolerance"])


def test_stop_only_tightens():
    # The operator may loosen the mode between ticks; a stop already reached must hold anyway.
    ticks = [
        ("fixed", "130"),
        ("fixed", "200"),
        ("zones", "190"),
        ("exponential", "210"),
        ("zones", "250"),
        ("fixed", "240"),
        ("custom", "260"),
    ]
    purchase, peak, stop = Decimal(100), Decimal(100), Decimal(-32)
    seen = []
    for mode, price in ticks:
        result = evaluate_stop_loss(
            StopLossConfig(mode=mode),
            purchase_price=purchase,
            peak_price=peak,
            current_stop_percent=stop,
            price=Decimal(price),
        )
        peak, stop = result.peak_price, result.stop_loss_percent
        seen.append(stop)

    assert seen == sorted(seen)
    assert seen[-1] == 140


def test_stop_price_is_measured_from_the_average_price_not_the_peak():
    cfg = StopLossConfig(mode="custom", trailing_levels=(TrailingLevel(Decimal(100), Decimal(50)),))

    result = evaluate_stop_loss(
        cfg,
        purchase_price=Decimal(10),
        peak_price=Decimal(30),
        current_stop_percent=Decimal(-32),
        price=Decimal(16),
    )

    assert result.stop_loss_percent == 50
    assert result.stop_price == 15
    assert not result.trigger


def test_trigger_is_inclusive_at_the_stop_price():
    result = evaluate_stop_loss(
        StopLossConfig(),
        purchase_price=Decimal("0.001"),
        peak_price=Decimal("0.001"),
        current_stop_percent=Decimal(-32),
        price=Decimal("0.00068"),
    )

    assert result.trigger
    assert result.stop_price == Decimal("0.00068")


def test_disabled_stop_loss_never_triggers_or_moves():
    result = evaluate_stop_loss(
        StopLossConfig(enabled=False),
        purchase_price=Decimal(100),
        peak_price=Decimal(300),
        current_stop_percent=Decimal(-32),
        price=Decimal(1),
    )

    assert not result.trigger
    assert result.stop_loss_percent == -32


@pytest.mark.parametrize("mode", ["fixed", "exponential", "zones", "custom"])
def test_a_peak_below_the_average_price_keeps_the_default(mode):
    cfg = StopLossConfig(
        mode=mode,
        default_percentage=Decimal(-25),
        trailing_levels=(TrailingLevel(Decimal(1), Decimal(5)),),
    )

    assert target_stop_percent(cfg, Decimal(-5)) == -25


def test_exponential_curve_boosts_big_runners():
    # Peak +90%: x = 70, past the boost start at 65. Worked from section 4 by hand:
    # keep = 0.87285 + 0.3 x (1 - e^(-5/80)) = 0.89103, so the stop sits at +80.19%
    # (78.56% without the boost).
    target = target_stop_percent(StopLossConfig(mode="exponential"), Decimal(90))

    assert abs(target - Decimal("80.1924")) < Decimal("0.0001")


def test_custom_levels_are_matched_whatever_their_order():
    levels = (
        TrailingLevel(Decimal(200), Decimal(98)),
        TrailingLevel(Decimal(50), Decimal(90)),
        TrailingLevel(Decimal(100), Decimal(95)),
    )
    cfg = StopLossConfig(mode="custom", trailing_levels=levels)

    assert target_stop_percent(cfg, Decimal(120)) == 95
    assert target_stop_percent(cfg, Decimal(250)) == 98


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="stop-loss mode"):
        target_stop_percent(StopLossConfig(mode="lunar"), Decimal(50))
