"""One price tick over 10,000 open positions: `trading.automation.positions_evaluate`.

The book: 500 tokens, 50 agents of one operator with 200 open positions each (two of them with
automation switched off, as an operator pauses an agent), agents on the four configurations of
the rules benchmark. A fifth of the tokens are runners: their positions are well in profit with
a trailed stop. Rows are seeded with bulk_create and every position is checked against the
rules at the tick's prices, so the measured ticks dispatch nothing: they measure evaluation,
not the sales a trigger would start.

Two scenarios, each a series of whole ticks (`positions_evaluate(prices)`):

- quiet: every token priced, nothing moves a peak, a low or a stop, so nothing is written back;
- new lows: the same, but 50 tokens (some 950 evaluated positions) fall to a new low on every
  tick, so their lowest price is written back.

Each tick is also split into its phases by timing the module's own steps in place: the query
(positions, plus the agents' configurations), the in-memory evaluation, the write-back and the
broadcast of prices to each agent's group. Runs on PostgreSQL with the Redis channel layer and
cache (the production topology); tasks are eager, and no task is dispatched anyway.
"""

import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from solders.pubkey import Pubkey

from bench.common import Measurement, child_main, phase_clock, settle
from bench.rules_per_position import CONFIGS, make_state, percent, random_price, rule_config
from nexgent import money
from trading.rules.tick import evaluate_tick

# Django models are imported inside the functions that use them: this module is imported
# before child_main has set Django up.

TOKENS = 500
POSITIONS_PER_AGENT = 200
AGENTS_PAUSED = 2
RUNNER_TOKEN_SHARE = 5  # one token in five
SINKING_TOKENS = 50
SINK_STEP = Decimal("0.999")
# Prices wander by up to this share either way from tick to tick, as a quiet market does:
# every tick sees new prices, none of them moves a peak, a low or a stop.
JITTER = Decimal("0.002")
JITTER_STEPS = 9
WARMUP_TICKS = 3
TICKS = 20
# The guard rail (issue #12): a whole tick over 10,000 positions.
GOAL_MILLISECONDS = 150.0
SOL_USD = Decimal("150")
SEED = 11
PHASES = {
    "_open_positions": "query",
    "_evaluate": "evaluate",
    "_store_exit_state": "write_back",
    "_broadcast_prices": "broadcast",
}
# 20 default agents, 12 with take profit + DCA, 10 exponential stop, 8 custom-everything; the
# paused ones are among the defaults.
AGENT_CONFIG_MIX = (
    ["defaults"] * 20 + ["take_profit_dca"] * 12 + ["exponential_stop"] * 10 + ["custom"] * 8
)
AGENTS = len(AGENT_CONFIG_MIX)


def mint(rng: random.Random) -> str:
    return str(Pubkey(rng.randbytes(32)))


def quiet_at(cfg, state, price: Decimal, now: datetime) -> bool:
    """Whether a tick at `price` leaves this position exactly as it is (no action, no write)."""
    result = evaluate_tick(cfg, state, price, now)
    return (
        not result.actions
        and money.price(result.peak_price) == state.peak_price
        and money.price(result.lowest_price) == state.lowest_price
        and money.percent(result.stop_loss_percent) == state.stop_loss_percent
    )


def flat_state(rng, cfg, now, price: Decimal):
    """Bought around today's price; the peak is above it and the low below it."""
    change = percent(rng, -4, 0.5)
    purchase = money.price(price / (1 + change / 100))
    return make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=change + percent(rng, 1, 12),
        lowest_drop=-change + percent(rng, 2, 6),
        held_minutes=rng.randint(5, 3 * 24 * 60),
    )


def runner_state(rng, cfg, now, price: Decimal):
    """Up 30-45% with a higher peak behind it, and the stop trailed to that peak."""
    change = percent(rng, 30, 45)
    purchase = money.price(price / (1 + change / 100))
    return make_state(
        rng,
        cfg,
        now,
        purchase_price=purchase,
        peak_gain=change + percent(rng, 1, 4),
        lowest_drop=percent(rng, 1, 5),
        held_minutes=rng.randint(30, 3 * 24 * 60),
    )


def jittered(price: Decimal, tick: int, token_index: int) -> Decimal:
    """The price of the `tick`th tick: one of JITTER_STEPS steps within +-JITTER of `price`,
    a different one for each token."""
    step = (tick * 7 + token_index * 13) % JITTER_STEPS - JITTER_STEPS // 2
    return money.price(price * (1 + JITTER * step / (JITTER_STEPS // 2)))


def quiet_everywhere(cfg, state, price: Decimal, now: datetime) -> bool:
    return all(quiet_at(cfg, state, jittered(price, step, 0), now) for step in range(JITTER_STEPS))


def quiet_state(rng, cfg, now, price: Decimal, runner: bool):
    for _ in range(50):
        state = (runner_state if runner else flat_state)(rng, cfg, now, price)
        if quiet_everywhere(cfg, state, price, now):
            return state
    # A runner this configuration would sell or trim here becomes an ordinary position.
    for _ in range(50):
        state = flat_state(rng, cfg, now, price)
        if quiet_everywhere(cfg, state, price, now):
            return state
    raise RuntimeError("no quiet position found")


def seed(rng: random.Random, now: datetime) -> dict:
    """Operator, agents, wallets and positions in a handful of bulk inserts; returns the book."""
    from django.contrib.auth.hashers import make_password

    from agents.config import validate_overrides
    from agents.models import Agent, User
    from prices.selectors import LatestPrice
    from trading.models import Position
    from wallets.models import AgentWallet

    owner = User.objects.create(email="bench@example.com", password=make_password(None))
    agents = Agent.objects.bulk_create(
        Agent(
            owner=owner,
            name=f"bench-{index:02d}",
            config=validate_overrides(CONFIGS[label]),
            automated_trading_simulation=index >= AGENTS_PAUSED,
        )
        for index, label in enumerate(AGENT_CONFIG_MIX)
    )
    wallets = AgentWallet.objects.bulk_create(
        AgentWallet(
            owner=owner, agent=agent, mode="simulation", address=f"sim_{rng.randbytes(16).hex()}"
        )
        for agent in agents
    )
    mints = [mint(rng) for _ in range(TOKENS)]
    prices = {m: random_price(rng) for m in mints}
    runners = set(mints[::RUNNER_TOKEN_SHARE])
    configs = {label: rule_config(CONFIGS[label]) for label in set(AGENT_CONFIG_MIX)}
    rows = []
    states: dict[str, list] = defaultdict(list)
    for agent, wallet, label in zip(agents, wallets, AGENT_CONFIG_MIX, strict=True):
        cfg = configs[label]
        for index in rng.sample(range(TOKENS), POSITIONS_PER_AGENT):
            token = mints[index]
            state = quiet_state(rng, cfg, now, prices[token], runner=token in runners)
            states[token].append((cfg, state))
            rows.append(
                Position(
                    agent=agent,
                    wallet=wallet,
                    token_address=token,
                    token_symbol=f"TK{index:03d}",
                    token_decimals=6,
                    purchase_price=state.purchase_price,
                    total_invested_sol=state.total_invested_sol,
                    total_tokens_bought=state.total_tokens_bought,
                    remaining_amount=state.remaining_amount,
                    peak_price=state.peak_price,
                    lowest_price=state.lowest_price,
                    stop_loss_percent=state.stop_loss_percent,
                    opened_at=state.opened_at,
                )
            )
    Position.objects.bulk_create(rows, batch_size=2_000)

    def latest(token: str, price: Decimal) -> LatestPrice:
        return LatestPrice(
            mint=token,
            price_sol=price,
            price_usd=money.price(price * SOL_USD),
            observed_at=now,
            source="jupiter",
        )

    def prices_at(tick: int) -> dict:
        return {
            token: latest(token, jittered(prices[token], tick, index))
            for index, token in enumerate(mints)
        }

    return {
        "prices_at": prices_at,
        "sinking": sinking_tokens(mints, prices, runners, states, now),
        "latest": latest,
    }


def sinking_tokens(mints, prices, runners, states, now) -> dict[str, Decimal]:
    """Tokens that can fall to a new low on every tick of the run without triggering anything:
    their first price is just under the lowest low of their positions."""
    chosen: dict[str, Decimal] = {}
    for token in mints:
        if token in runners or len(chosen) == SINKING_TOKENS:
            continue
        start = money.price(min(s.lowest_price for _, s in states[token]) * SINK_STEP)
        path = [sunk(start, tick) for tick in range(WARMUP_TICKS + TICKS)]
        if all(
            not evaluate_tick(cfg, state, price, now).actions
            for cfg, state in states[token]
            for price in path
        ):
            chosen[token] = start
    return chosen


def sunk(start: Decimal, tick: int) -> Decimal:
    return money.price(start * SINK_STEP**tick)


def run_ticks(prices_for_tick, cold: bool = False) -> tuple[list[float], dict, list]:
    """Time TICKS ticks after WARMUP_TICKS. `cold`: forget every quiet range before each tick,
    as after a worker restart, so every position is evaluated by the rules."""
    from trading import automation
    from trading.tasks import EXECUTOR

    reports = []
    for tick in range(WARMUP_TICKS):
        automation.positions_evaluate(prices_for_tick(tick), EXECUTOR)
    settle()
    totals = []
    with phase_clock(automation, PHASES) as phases:
        for tick in range(WARMUP_TICKS, WARMUP_TICKS + TICKS):
            prices = prices_for_tick(tick)
            if cold:
                automation._quiet_ranges = {}
            started = time.perf_counter()
            report = automation.positions_evaluate(prices, EXECUTOR)
            totals.append(time.perf_counter() - started)
            reports.append(report)
    for report in reports:
        if report.actions:
            raise RuntimeError(f"a benchmark tick dispatched actions: {report.actions[:5]}")
    return totals, phases, reports


def scenario_rows(prefix: str, what: str, totals, phases, details, goal: bool) -> list:
    read_and_evaluate = [q + e for q, e in zip(phases["query"], phases["evaluate"], strict=True)]
    return [
        Measurement(
            prefix,
            f"{what}: evaluation of every open position (the rules or a quiet range)",
            phases["evaluate"],
            "ms",
            details=details,
        ),
        Measurement(
            f"{prefix}.query_and_evaluate",
            f"{what}: the DB read of the positions plus their evaluation",
            read_and_evaluate,
            "ms",
        ),
        Measurement(
            f"{prefix}.whole_tick",
            f"{what}: positions_evaluate() whole: query, evaluation, write-back, broadcast",
            totals,
            "ms",
            goal=GOAL_MILLISECONDS if goal else None,
        ),
        *(
            Measurement(f"{prefix}.{label}", f"{what}: phase {label}", samples, "ms")
            for label, samples in phases.items()
            # A quiet tick has nothing to write back and skips that phase altogether; the
            # evaluation is the headline row.
            if samples and label != "evaluate"
        ),
    ]


def run() -> list[Measurement]:
    from django.core.management import call_command
    from django.db import connection

    from trading.models import Position

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    book = seed(rng, now - timedelta(seconds=5))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seeded = time.perf_counter()
    open_positions = Position.objects.filter(status="open").count()
    prices_at = book["prices_at"]

    totals, phases, reports = run_ticks(prices_at)
    details = {
        "open_positions": open_positions,
        "evaluated_per_tick": reports[-1].evaluated,
        "within_quiet_range_per_tick": reports[-1].within_quiet_range,
        "price_jitter": f"+-{JITTER * 100}% from tick to tick",
        "tokens_priced": TOKENS,
        "agents": AGENTS,
        "agents_with_automation_off": AGENTS_PAUSED,
        "warmup_ticks": WARMUP_TICKS,
        "backend": "PostgreSQL + Redis (cache and channel layer); NEXGENT_TASK_MODE=eager",
        "migrate_seconds": round(migrated - started, 1),
        "seed_seconds": round(seeded - migrated, 1),
    }
    rows = scenario_rows("tick_10k", "quiet tick, 10k positions", totals, phases, details, True)

    totals, phases, reports = run_ticks(prices_at, cold=True)
    cold_details = {"evaluated_per_tick": reports[-1].evaluated}
    rows += scenario_rows(
        "tick_10k.cold", "quiet tick, no range remembered", totals, phases, cold_details, False
    )

    sinking, latest = book["sinking"], book["latest"]

    def sinking_prices(tick: int) -> dict:
        moved = {token: latest(token, sunk(start, tick)) for token, start in sinking.items()}
        return {**prices_at(tick), **moved}

    totals, phases, reports = run_ticks(sinking_prices)
    low_details = {
        "sinking_tokens": len(sinking),
        # Paused agents' positions in those tokens are not evaluated, so not written either.
        "positions_written_per_tick": Position.objects.filter(
            token_address__in=list(sinking),
            status="open",
            agent__automated_trading_simulation=True,
        ).count(),
        "evaluated_per_tick": reports[-1].evaluated,
        "within_quiet_range_per_tick": reports[-1].within_quiet_range,
    }
    rows += scenario_rows(
        "tick_10k.new_lows", "tick with ~1k new lows", totals, phases, low_details, False
    )
    return rows


if __name__ == "__main__":
    child_main(run)
