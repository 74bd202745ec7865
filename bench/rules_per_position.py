"""The pure rules: one `evaluate_tick` call per position, no database, no Django.

Four agent configurations (the defaults; take profit + DCA on; the exponential trailing stop;
everything custom), each over a set of positions in realistic states. "Quiet" ticks are the
ones that run for nearly every position on nearly every tick: the price moved but nothing is
sold or bought (flat positions, a new peak, a runner whose trailing stop holds). "Action"
ticks trigger a stop loss, a stale-trade close, a take-profit sale or a DCA buy. Every case is
checked against the rules themselves before it is timed, so a quiet case really is quiet.

Each call is timed on its own (perf_counter_ns around the call, the timer's own cost
subtracted), so the percentiles are per position, not per batch.
"""

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from agents.config import effective_config, to_rule_config
from bench.common import Measurement, child_main, settle
from nexgent import money
from trading.rules.config import RuleConfig
from trading.rules.stop_loss import ratcheted_stop_percent
from trading.rules.tick import PositionState, TickResult, evaluate_tick

GOAL_MICROSECONDS = 5.0
CASES_PER_KIND = 400
PASSES = 25
WARMUP_PASSES = 2
SEED = 7

CONFIGS: dict[str, dict] = {
    "defaults": {},
    "take_profit_dca": {"take_profit": {"enabled": True}, "dca": {"enabled": True}},
    "exponential_stop": {"stop_loss": {"mode": "exponential"}},
    "custom": {
        "stop_loss": {
            "mode": "custom",
            "default_percentage": "-25",
            "trailing_levels": [
                {"change": "30", "stop_loss": "15"},
                {"change": "60", "stop_loss": "40"},
                {"change": "100", "stop_loss": "70"},
            ],
        },
        "take_profit": {
            "enabled": True,
            "mode": "custom",
            "levels": [
                {"target_percent": "75", "sell_percent": "30"},
                {"target_percent": "150", "sell_percent": "30"},
                {"target_percent": "300", "sell_percent": "30"},
            ],
            "moon_bag": {"enabled": True, "trigger_percent": "300", "retain_percent": "10"},
        },
        "dca": {
            "enabled": True,
            "mode": "custom",
            "levels": [
                {"drop_percent": "-15", "buy_percent": "50"},
                {"drop_percent": "-22", "buy_percent": "100"},
            ],
            "max_dca_count": 2,
            "cooldown_seconds": 60,
        },
        "stale_trade": {
            "min_hold_minutes": 120,
            "min_profit_percent": "2",
            "max_profit_percent": "8",
        },
    },
}

Case = tuple[PositionState, Decimal]


def rule_config(overrides: dict) -> RuleConfig:
    return to_rule_config(effective_config(overrides))


def take_profit_levels(cfg: RuleConfig) -> int:
    return len(cfg.take_profit.resolved()[0])


def random_price(rng: random.Random) -> Decimal:
    """A memecoin price in SOL: six significant digits, 1e-9 to 1e-3."""
    return money.price(Decimal(rng.randint(100_000, 999_999)).scaleb(-rng.randint(9, 14)))


def percent(rng: random.Random, low: float, high: float) -> Decimal:
    """A percentage with two decimals, drawn uniformly; built from an integer, never a float."""
    return Decimal(rng.randint(round(low * 100), round(high * 100))).scaleb(-2)


def moved(value: Decimal, change_percent: Decimal) -> Decimal:
    return money.price(value * (1 + change_percent / 100))


def make_state(
    rng: random.Random,
    cfg: RuleConfig,
    now: datetime,
    *,
    purchase_price: Decimal,
    peak_gain: Decimal,
    lowest_drop: Decimal,
    held_minutes: int,
    stop_percent: Decimal | None = None,
) -> PositionState:
    """A position as the executor leaves it after a buy of 0.1-2 SOL and some ticks."""
    invested = Decimal(rng.randint(100, 2_000)).scaleb(-3)
    tokens = money.amount((invested / purchase_price).quantize(Decimal("1e-6")))
    peak = moved(purchase_price, peak_gain)
    if stop_percent is None:
        stop_percent = cfg.stop_loss.default_percentage
        if cfg.stop_loss.enabled:
            stop_percent = ratcheted_stop_percent(cfg.stop_loss, purchase_price, peak, stop_percent)
    return PositionState(
        purchase_price=purchase_price,
        total_invested_sol=money.amount(invested * Decimal("1.001") + Decimal("0.000105")),
        total_tokens_bought=tokens,
        remaining_amount=tokens,
        peak_price=peak,
        lowest_price=moved(purchase_price, -lowest_drop),
        stop_loss_percent=money.percent(stop_percent),
        take_profit_levels_hit=0,
        take_profit_batch_start=0,
        take_profit_total_levels=take_profit_levels(cfg),
        moon_bag_activated=False,
        moon_bag_amount=money.ZERO,
        dca_count=0,
        last_dca_at=None,
        opened_at=now - timedelta(minutes=held_minutes),
    )


def flat(rng, cfg, now) -> Case:
    """The common case: the price drifts below the peak and above the lowest price."""
    purchase = random_price(rng)
    state = make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=percent(rng, 1, 15),
        lowest_drop=percent(rng, 6, 12),
        held_minutes=rng.randint(5, 2_000),
    )
    return state, moved(purchase, percent(rng, -5, 0.5))


def new_peak(rng, cfg, now) -> Case:
    """A young position making a new high: peak moves, nothing is sold."""
    purchase = random_price(rng)
    gain = percent(rng, 2, 15)
    state = make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=gain - Decimal("0.5"),
        lowest_drop=percent(rng, 1, 5),
        held_minutes=rng.randint(1, 50),
    )
    return state, moved(purchase, gain)


def runner(rng, cfg, now) -> Case:
    """Well in profit with a trailed stop that holds: the stop-loss curve is evaluated."""
    purchase = random_price(rng)
    peak_gain = percent(rng, 42, 60)
    state = make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=peak_gain,
        lowest_drop=percent(rng, 1, 5),
        held_minutes=rng.randint(10, 600),
    )
    return state, moved(purchase, peak_gain - percent(rng, 1, 4))


def stop_loss_hit(rng, cfg, now) -> Case:
    purchase = random_price(rng)
    state = make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=percent(rng, 0, 10),
        lowest_drop=percent(rng, 5, 20),
        held_minutes=rng.randint(1, 600),
    )
    return state, moved(purchase, state.stop_loss_percent - percent(rng, 0.5, 5))


def stale(rng, cfg, now) -> Case:
    purchase = random_price(rng)
    window = cfg.stale_trade
    state = make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=percent(rng, 12, 18),
        lowest_drop=percent(rng, 1, 5),
        held_minutes=window.min_hold_minutes + rng.randint(1, 600),
    )
    change = percent(rng, float(window.min_profit_percent), float(window.max_profit_percent))
    return state, moved(purchase, change)


def take_profit_hit(rng, cfg, now) -> Case:
    purchase = random_price(rng)
    first_target = cfg.take_profit.resolved()[0][0].target_percent
    state = make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=first_target - 5,
        lowest_drop=percent(rng, 1, 5),
        held_minutes=rng.randint(1, 600),
    )
    return state, moved(purchase, first_target + percent(rng, 0, 20))


def dca_hit(rng, cfg, now) -> Case:
    purchase = random_price(rng)
    first_drop = cfg.dca.resolved_levels()[0].drop_percent
    state = make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=percent(rng, 0, 8),
        lowest_drop=-first_drop + 1,
        held_minutes=rng.randint(1, 600),
    )
    # Past the DCA level but well above the default stop (-32% or the custom -25%).
    return state, moved(purchase, first_drop - percent(rng, 0.5, 2))


# Mostly flat positions, as on a real book; every fourth a runner with a trailed stop.
QUIET_MAKERS = [flat, flat, new_peak, runner]


def action_makers(cfg: RuleConfig) -> list[Callable]:
    makers = [stop_loss_hit]
    if cfg.stale_trade.enabled:
        makers.append(stale)
    if cfg.take_profit.enabled:
        makers.append(take_profit_hit)
    if cfg.dca.enabled:
        makers.append(dca_hit)
    return makers


def build_cases(
    rng: random.Random, cfg: RuleConfig, now: datetime, makers: list[Callable], quiet: bool
) -> list[Case]:
    """CASES_PER_KIND cases, round-robin over `makers`, each verified by the rules."""
    cases: list[Case] = []
    attempts = 0
    while len(cases) < CASES_PER_KIND:
        attempts += 1
        if attempts > CASES_PER_KIND * 20:
            raise RuntimeError("could not build enough verified cases")
        state, price = makers[len(cases) % len(makers)](rng, cfg, now)
        result: TickResult = evaluate_tick(cfg, state, price, now)
        if (not result.actions) == quiet:
            cases.append((state, price))
    return cases


def timer_overhead_ns() -> int:
    """The median cost of the perf_counter_ns pair that brackets each call."""
    clock = time.perf_counter_ns
    samples = []
    for _ in range(20_000):
        started = clock()
        samples.append(clock() - started)
    samples.sort()
    return samples[len(samples) // 2]


def time_cases(cfg: RuleConfig, cases: list[Case], now: datetime, overhead_ns: int) -> list[float]:
    clock = time.perf_counter_ns
    for _ in range(WARMUP_PASSES):
        for state, price in cases:
            evaluate_tick(cfg, state, price, now)
    settle()
    samples = []
    append = samples.append
    for _ in range(PASSES):
        for state, price in cases:
            started = clock()
            evaluate_tick(cfg, state, price, now)
            append(max(clock() - started - overhead_ns, 0) / 1e9)
    return samples


def run() -> list[Measurement]:
    rng = random.Random(SEED)
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    overhead = timer_overhead_ns()
    per_config: list[Measurement] = []
    quiet_all: list[float] = []
    action_all: list[float] = []
    for name, overrides in CONFIGS.items():
        cfg = rule_config(overrides)
        quiet = build_cases(rng, cfg, now, QUIET_MAKERS, quiet=True)
        action = build_cases(rng, cfg, now, action_makers(cfg), quiet=False)
        quiet_samples = time_cases(cfg, quiet, now, overhead)
        action_samples = time_cases(cfg, action, now, overhead)
        quiet_all += quiet_samples
        action_all += action_samples
        per_config += [
            Measurement(
                f"rules.{name}.quiet",
                f"evaluate_tick, {name} config, no-action ticks",
                quiet_samples,
                "µs",
            ),
            Measurement(
                f"rules.{name}.action",
                f"evaluate_tick, {name} config, ticks that trigger an action",
                action_samples,
                "µs",
            ),
        ]
    details = {
        "configs": list(CONFIGS),
        "cases_per_config_and_kind": CASES_PER_KIND,
        "passes": PASSES,
        "timer_overhead_ns_subtracted": overhead,
    }
    return [
        Measurement(
            "rules_per_position",
            "evaluate_tick per position, all configs, no-action ticks (the per-tick common case)",
            quiet_all,
            "µs",
            goal=GOAL_MICROSECONDS,
            goal_stat="mean",
            details=details,
        ),
        Measurement(
            "rules_per_position.action",
            "evaluate_tick per position, all configs, ticks that trigger an action",
            action_all,
            "µs",
            goal=GOAL_MICROSECONDS,
            goal_stat="mean",
            details=details,
        ),
        *per_config,
    ]


if __name__ == "__main__":
    child_main(run, uses_django=False)
