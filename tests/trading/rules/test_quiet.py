"""quiet_range against evaluate_tick: every price inside a quiet range really is quiet.

Positions, configurations and prices are drawn at random across every rule and mode; for each
tick that is quiet, the prices just inside both limits of its range (the next representable
values at the rules' precision), points between them, and times up to the range's limit are
all evaluated in full.
"""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.trading.rules.test_tick import position as tick_position
from trading.rules.config import (
    CUSTOM,
    DcaConfig,
    DcaLevel,
    MoonBagConfig,
    RuleConfig,
    StaleTradeConfig,
    StopLossConfig,
    TakeProfitConfig,
    TakeProfitLevel,
    TrailingLevel,
)
from trading.rules.decimal_math import CONTEXT
from trading.rules.quiet import QuietRange, quiet_range
from trading.rules.stop_loss import ratcheted_stop_percent
from trading.rules.tick import PositionState, evaluate_tick

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
PRESETS = ("aggressive", "moderate", "conservative")
PRICE_PLACES = Decimal("1e-30")
PERCENT_PLACES = Decimal("1e-10")
AMOUNT_PLACES = Decimal("1e-9")
SOL_PLACES = Decimal("1e-18")
CASES = 4000


def percent(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(str(round(rng.uniform(low, high), rng.choice((0, 1, 2, 6)))))


def stop_loss_config(rng: random.Random) -> StopLossConfig:
    mode = rng.choice(("fixed", "exponential", "zones", CUSTOM))
    levels = tuple(
        TrailingLevel(percent(rng, 5, 300), percent(rng, -20, 200))
        for _ in range(rng.randint(1, 4) if mode == CUSTOM else 0)
    )
    return StopLossConfig(rng.random() < 0.9, percent(rng, -90, -1), mode, levels)


def take_profit_config(rng: random.Random) -> TakeProfitConfig:
    mode = rng.choice((*PRESETS, CUSTOM))
    targets = sorted(percent(rng, 1, 600) for _ in range(rng.randint(1, 5)))
    levels = tuple(TakeProfitLevel(target, percent(rng, 5, 40)) for target in targets)
    moon_bag = MoonBagConfig(rng.random() < 0.7, percent(rng, 50, 500), percent(rng, 1, 30))
    return TakeProfitConfig(rng.random() < 0.6, mode, levels, moon_bag)


def dca_config(rng: random.Random) -> DcaConfig:
    mode = rng.choice((*PRESETS, CUSTOM))
    levels = tuple(
        DcaLevel(percent(rng, -80, -1), percent(rng, 10, 150)) for _ in range(rng.randint(0, 4))
    )
    return DcaConfig(rng.random() < 0.6, mode, levels, rng.randint(0, 4), rng.randint(0, 300))


def stale_config(rng: random.Random) -> StaleTradeConfig:
    # Sometimes inverted (min > max): a window that contains nothing.
    return StaleTradeConfig(
        rng.random() < 0.7, rng.randint(0, 240), percent(rng, -20, 10), percent(rng, -5, 40)
    )


def rule_config(rng: random.Random) -> RuleConfig:
    return RuleConfig(
        stop_loss=stop_loss_config(rng),
        take_profit=take_profit_config(rng),
        dca=dca_config(rng),
        stale_trade=stale_config(rng),
    )


def scaled(price: Decimal, change: Decimal) -> Decimal:
    return CONTEXT.quantize(CONTEXT.multiply(price, 1 + change / 100), PRICE_PLACES)


def tick_price(rng: random.Random, state: PositionState) -> Decimal:
    """Mostly between the lowest price and the peak, where quiet ticks are; sometimes anywhere."""
    if rng.random() < 0.3:
        return scaled(state.purchase_price, percent(rng, -95, 450))
    share = Decimal(rng.random())
    between = state.lowest_price + (state.peak_price - state.lowest_price) * share
    return CONTEXT.quantize(between, PRICE_PLACES)


def position(rng: random.Random, cfg: RuleConfig) -> PositionState:
    purchase = Decimal(rng.randint(1, 10**9)).scaleb(-rng.randint(0, 15))
    peak = scaled(purchase, percent(rng, 0, 400))
    bought = Decimal(rng.randint(1, 10**12)).scaleb(-rng.randint(0, 9))
    remaining = CONTEXT.quantize(bought * Decimal(rng.random()), AMOUNT_PLACES)
    levels_hit = rng.randint(0, 4)
    stop = percent(rng, -90, -1)
    if rng.random() < 0.7:
        # As the executor stores it: ratcheted at the peak, rounded to the column's places.
        stop = CONTEXT.quantize(
            ratcheted_stop_percent(cfg.stop_loss, purchase, peak, stop), PERCENT_PLACES
        )
    return PositionState(
        purchase_price=purchase,
        total_invested_sol=CONTEXT.quantize(CONTEXT.multiply(purchase, bought), SOL_PLACES),
        total_tokens_bought=bought,
        remaining_amount=remaining,
        peak_price=peak,
        lowest_price=scaled(purchase, -percent(rng, 0, 95)),
        stop_loss_percent=stop,
        take_profit_levels_hit=levels_hit,
        take_profit_batch_start=rng.randint(0, levels_hit),
        take_profit_total_levels=rng.choice((None, levels_hit + rng.randint(0, 4))),
        moon_bag_activated=rng.random() < 0.3,
        moon_bag_amount=CONTEXT.quantize(remaining * Decimal(rng.random()), AMOUNT_PLACES),
        dca_count=rng.randint(0, 3),
        last_dca_at=rng.choice((None, NOW - timedelta(seconds=rng.randint(0, 600)))),
        opened_at=NOW - timedelta(minutes=rng.randint(0, 600), seconds=rng.randint(0, 59)),
    )


def quiet_tick(cfg: RuleConfig, state: PositionState, price: Decimal, now: datetime):
    """The tick's stop percent if it acts on nothing and moves neither peak nor lowest price."""
    result = evaluate_tick(cfg, state, price, now)
    if result.actions or result.peak_price != state.peak_price:
        return None
    if result.lowest_price != state.lowest_price:
        return None
    return result.stop_loss_percent


def prices_inside(rng: random.Random, quiet: QuietRange, price: Decimal) -> list[Decimal]:
    low, high = quiet.low.next_plus(CONTEXT), quiet.high.next_minus(CONTEXT)
    between = [quiet.low + (quiet.high - quiet.low) * Decimal(rng.random()) for _ in range(4)]
    return [low, high, price, *(p for p in between if quiet.low < p < quiet.high)]


def times_inside(quiet: QuietRange) -> list[datetime]:
    if quiet.until is None:
        return [NOW, NOW - timedelta(days=1), NOW + timedelta(days=30)]
    return [NOW, NOW - timedelta(days=1), quiet.until - timedelta(microseconds=1)]


def check_case(rng: random.Random) -> QuietRange | None:
    """Draw one case; if its tick is quiet and it has a range, check every price and time
    inside it. Returns the range."""
    cfg = rule_config(rng)
    state = position(rng, cfg)
    price = tick_price(rng, state)
    stop = quiet_tick(cfg, state, price, NOW)
    if stop is None:
        return None
    quiet = quiet_range(cfg, state, price, NOW)
    if quiet is None:
        return None
    for inside in prices_inside(rng, quiet, price):
        for when in times_inside(quiet):
            assert quiet_tick(cfg, state, inside, when) == stop, (cfg, state, inside, when)
    return quiet


def test_every_price_inside_a_quiet_range_is_quiet():
    rng = random.Random(20261122)
    found = [check_case(rng) for _ in range(CASES)]
    ranges = [quiet for quiet in found if quiet is not None]
    # Not vacuous: a good share of the random ticks are quiet and get a range, of both kinds.
    assert len(ranges) > CASES // 5
    assert any(quiet.until is not None for quiet in ranges)
    assert any(quiet.until is None for quiet in ranges)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False))
def test_quiet_ranges_hold_for_searched_cases(rng):
    check_case(rng)


def test_the_range_stops_short_of_each_limit():
    # A stop that never trails, at -32% of 1.0; peak 1.6, lowest 0.7; take profit (moderate)
    # at +50%, DCA (moderate) at -20%, stale window 1%..10% after an hour's hold.
    cfg = RuleConfig(
        stop_loss=StopLossConfig(mode=CUSTOM),
        take_profit=TakeProfitConfig(enabled=True),
        dca=DcaConfig(enabled=True),
    )
    state = tick_position(
        purchase_price=Decimal(1),
        peak_price=Decimal("1.6"),
        lowest_price=Decimal("0.7"),
        opened_at=NOW - timedelta(hours=2),
    )
    below_window = quiet_range(cfg, state, Decimal("0.95"), NOW)
    # DCA at 0.8 (above the lowest and the stop), the stale window from 1.01.
    assert Decimal("0.8") < below_window.low < Decimal("0.8000001")
    assert Decimal("1.0099999") < below_window.high < Decimal("1.01")
    assert below_window.until is None
    above_window = quiet_range(cfg, state, Decimal("1.2"), NOW)
    # The stale window ends at 1.10; the take profit starts at 1.5, below the peak.
    assert Decimal("1.1") < above_window.low < Decimal("1.1000001")
    assert Decimal("1.4999999") < above_window.high < Decimal("1.5")
    # Held for less than the hour: inside the window, quiet only until the hour is up.
    young = state._replace(opened_at=NOW - timedelta(minutes=10))
    in_window = quiet_range(cfg, young, Decimal("1.05"), NOW)
    assert in_window.until == young.opened_at + timedelta(hours=1)
    assert quiet_range(cfg, state, Decimal("1.05"), NOW) is None
