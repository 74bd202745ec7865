"""The exit after a trigger: a token's price falls through its positions' stop at the provider,
and the engine's price poll, running as in production, sells them.

Topology: PostgreSQL + Redis, two Celery worker processes (thread pool, as bench/signals.py)
and Celery beat sending `trading.tasks.price_poll` every PRICE_POLL_INTERVAL_SECONDS (the
production default, 1 s; the period is a float, so beat is not held to whole seconds), with
localnet in this process on 127.0.0.1 as Jupiter (prices, quotes) and Hermes (SOL/USD). No
`price_stream` process runs, so each tick fetches SOL/USD over REST before its token prices.

The book: 1,000 open positions in 200 tokens. 40 agents with a fixed-mode stop loss at the
default -32% (every other rule at its default) hold 25 positions each, the default limit; each
token is held by a group of five of them. Each position is checked against the rules at its
token's price, so a tick leaves it alone, and its wallet holds its tokens, so its sale can be
recorded.

Then, one token at a time, at a random moment of the poll period: the token's price on localnet
drops to 90% of the lowest stop of its five positions (T0: from then on the provider answers the
new price), and this process polls PostgreSQL every 2 ms until all five are closed with reason
stop_loss, and Redis for the engine's latest-price entry of the token, whose `observed_at` the
tick stamps when its price batches have come back. A sale counts as committed at the end of the
first database poll that sees it (never early, at most one poll late). The five agents then
buy a new token in its place, so the book stays at 1,000 positions in 200 tokens.

Rows, per sale unless said otherwise:

- `price_to_exit.observed_to_sale`: price observed by the engine -> sale committed. Goal p50
  <= 50 ms.
- `.observed_to_quote`, `.quote_to_fill` and `.fill_to_commit` split it where the sale's task
  asks localnet for its quote (clocked by localnet, matched to the position by its amount) and
  at the position's `closed_at`, which the executor stamps once the fill is in hand, just
  before its transaction opens: the rest of the tick, the task's trip through the broker and
  its first reads; the quote's answer, read and filled; the transaction and its commit.
- `.observed_to_last_sale`, per token: until the last of its five holders is out.
- `.provider_to_sale`: T0 -> sale committed, which includes waiting for the next poll, and
  `.provider_to_observed`, per token, that wait alone.
"""

import random
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bench.common import (
    CeleryProcess,
    Measurement,
    celery_env,
    check_running,
    child_main,
    print_logs,
    settle,
    spawn,
    start_workers,
    stop_processes,
    wait_for_workers,
)
from bench.rules_per_position import random_price, rule_config
from bench.tick_10k import quiet_state
from nexgent import money
from tests.harness import celery_beat_argv
from trading.rules.config import RuleConfig
from trading.rules.stop_loss import stop_price_for

# Django models are imported inside the functions that use them: this module is imported
# before child_main has set Django up.

TOKENS = 200
HOLDERS_PER_TOKEN = 5
# 25 positions per agent, the default risk.max_open_positions: every sale's balance event lists
# all of its wallet's balances, so wallets of 200 tokens would make each sale pay for that list.
POSITIONS_PER_AGENT = 25
AGENTS = TOKENS * HOLDERS_PER_TOKEN // POSITIONS_PER_AGENT
WORKERS = 2
WORKER_CONCURRENCY = 8  # as bench/signals.py
WARMUP_TICKS = 3
WARMUP_CRASHES = 5
CRASHES = 120
# Far enough under the lowest stop that the engine's conversion of the price (USD over
# SOL/USD and back) cannot put it above a stop.
CRASH_FACTOR = Decimal("0.9")
# Polling is how this process sees a commit; more often would take CPU from the workers on a
# small machine. The figures are good to about this much.
POLL_SECONDS = 0.002
TICK_TIMEOUT_SECONDS = 60
SALE_TIMEOUT_SECONDS = 30
GOAL_MILLISECONDS = 100.0
DECIMALS = 6
LIQUIDITY_SOL = Decimal("500")
DEPOSIT_SOL = Decimal("1000")
SOL_USD = Decimal("150")
SEED = 17
AGENT_CONFIG = {"stop_loss": {"mode": "fixed"}}


@dataclass
class Book:
    """The open book, and what the benchmark needs to know of it to crash a token."""

    # Groups of HOLDERS_PER_TOKEN (agent id, wallet id): every token is held by one group.
    groups: list[list[tuple[int, int]]]
    rules: RuleConfig  # the agents'
    group_of: dict[str, int] = field(default_factory=dict)
    queue: deque = field(default_factory=deque)  # tokens, oldest first: the next to crash
    positions: dict[str, list[int]] = field(default_factory=dict)
    lowest_stop: dict[str, Decimal] = field(default_factory=dict)
    # position id -> (peak, lowest, stop) as seeded: a tick must leave these alone
    seeded: dict[int, tuple] = field(default_factory=dict)
    # position id -> what it holds in raw units, which its sale asks a quote for
    raw_amount: dict[int, int] = field(default_factory=dict)
    listed: int = 0


@dataclass
class Crash:
    provider_at: float  # T0, wall clock
    observed_at: float  # the engine's LatestPrice.observed_at
    quoted_at: dict[int, float]  # position id -> its sale's quote asked of localnet
    filled_at: dict[int, float]  # position id -> its closed_at
    committed_at: dict[int, float]  # position id -> end of the poll that saw it closed


class QuoteClock:
    """When localnet is asked for each quote, by (input mint, raw amount): the moment a sale's
    task, after the tick, the broker and its first reads, reaches the provider."""

    def __init__(self, market):
        self.asked: dict[tuple[str, int], float] = {}
        quote = market.quote

        def clocked(input_mint, output_mint, amount, *args, **kwargs):
            # A retried quote keeps the first time.
            self.asked.setdefault((input_mint, amount), time.time())
            return quote(input_mint, output_mint, amount, *args, **kwargs)

        market.quote = clocked


def run() -> list[Measurement]:
    from django.conf import settings
    from django.core.management import call_command

    from localnet.market import SyntheticMarket
    from localnet.serving import LocalnetServer

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(SEED)
    market = SyntheticMarket(seed=SEED, sol_usd=SOL_USD)
    book = seed(market, rng)
    seeded = time.perf_counter()
    period = float(settings.PRICE_POLL_INTERVAL_SECONDS)
    server = LocalnetServer(market).start()
    with tempfile.TemporaryDirectory(prefix="nexgent-bench-exit-") as tmp:
        processes = start_workers(
            server.engine_settings(), Path(tmp), count=WORKERS, concurrency=WORKER_CONCURRENCY
        )
        try:
            wait_for_workers(processes)
            processes.append(start_beat(server.engine_settings(), Path(tmp)))
            wait_for_ticks(WARMUP_TICKS, processes)
            settle()
            crashes, missed = crash_tokens(market, QuoteClock(market), rng, book, processes, period)
            undisturbed = check_book(book, len(crashes) + missed + WARMUP_CRASHES)
        except Exception:
            print_logs(processes)
            raise
        finally:
            stop_processes(processes)
            server.stop()
    details = {
        "open_positions": TOKENS * HOLDERS_PER_TOKEN,
        "tokens": TOKENS,
        "agents": f"{AGENTS}, {POSITIONS_PER_AGENT} positions each, {HOLDERS_PER_TOKEN} per token",
        "crashes": len(crashes),
        "warmup_crashes": WARMUP_CRASHES,
        "observations_missed": missed,
        "open_positions_left_unchanged": undisturbed,
        "price_poll_interval_s": period,
        "workers": f"{WORKERS} Celery workers, thread pool x {WORKER_CONCURRENCY}, + celery beat",
        "backend": "PostgreSQL + Redis broker/cache/channel layer; localnet in-process over HTTP",
        "poll_interval_ms": POLL_SECONDS * 1000,
        "setup_seconds": round(seeded - started, 1),
    }
    return rows(crashes, details)


# --- The book ------------------------------------------------------------------------------------


def seed(market, rng: random.Random) -> Book:
    from django.contrib.auth.hashers import make_password

    from agents.models import User
    from agents.services import agent_create
    from trading.ledger_services import balance_deposit

    owner = User.objects.create(email="exits@example.com", password=make_password(None))
    holders = []
    for index in range(AGENTS):
        agent = agent_create(owner=owner, name=f"bench-exit-{index}", config=AGENT_CONFIG)
        wallet = agent.wallets.get(mode="simulation")
        balance_deposit(wallet=wallet, amount=DEPOSIT_SOL)
        holders.append((agent.pk, wallet.pk))
    groups = [
        holders[start : start + HOLDERS_PER_TOKEN] for start in range(0, AGENTS, HOLDERS_PER_TOKEN)
    ]
    book = Book(groups=groups, rules=rule_config(AGENT_CONFIG))
    list_tokens(market, rng, book, [index % len(groups) for index in range(TOKENS)])
    return book


def list_tokens(market, rng: random.Random, book: Book, groups: list[int]) -> None:
    """List a new token on localnet for each of these groups of agents, held by the group: the
    positions, the wallets' token balances and the token's decimals, as buys would have left
    them."""
    from prices.models import Token
    from trading.models import Balance, Position

    now = datetime.now(UTC)
    tokens, balances, positions, states = [], [], [], []
    for group in groups:
        book.listed += 1
        symbol = f"X{book.listed:04d}"
        price = random_price(rng)
        mint = market.add_token(
            symbol=symbol, price_sol=price, decimals=DECIMALS, liquidity_sol=LIQUIDITY_SOL
        )
        tokens.append(Token(mint=mint, symbol=symbol, decimals=DECIMALS))
        stops = []
        for agent_id, wallet_id in book.groups[group]:
            state = quiet_state(rng, book.rules, now, price, runner=False)
            stops.append(stop_price_for(state.purchase_price, state.stop_loss_percent))
            states.append(state)
            positions.append(position_row(agent_id, wallet_id, mint, symbol, state))
            balances.append(
                Balance(
                    wallet_id=wallet_id,
                    token_address=mint,
                    token_symbol=symbol,
                    amount=state.remaining_amount,
                )
            )
        book.lowest_stop[mint] = min(stops)
        book.group_of[mint] = group
        book.queue.append(mint)
    Token.objects.bulk_create(tokens)
    Balance.objects.bulk_create(balances)
    for position, state in zip(Position.objects.bulk_create(positions), states, strict=True):
        book.positions.setdefault(position.token_address, []).append(position.pk)
        book.seeded[position.pk] = (state.peak_price, state.lowest_price, state.stop_loss_percent)
        book.raw_amount[position.pk] = money.ui_to_raw(state.remaining_amount, DECIMALS)


def position_row(agent_id: int, wallet_id: int, mint: str, symbol: str, state):
    from trading.models import Position

    return Position(
        agent_id=agent_id,
        wallet_id=wallet_id,
        token_address=mint,
        token_symbol=symbol,
        token_decimals=DECIMALS,
        purchase_price=state.purchase_price,
        total_invested_sol=state.total_invested_sol,
        total_tokens_bought=state.total_tokens_bought,
        remaining_amount=state.remaining_amount,
        peak_price=state.peak_price,
        lowest_price=state.lowest_price,
        stop_loss_percent=state.stop_loss_percent,
        opened_at=state.opened_at,
    )


def check_book(book: Book, crashed: int) -> int:
    """Raise if anything but the crashed tokens' stop losses was sold; return how many open
    positions still hold exactly their seeded peak, lowest price and stop."""
    from trading.models import ClosedTrade, CloseReason, Position, PositionStatus

    open_rows = Position.objects.filter(status=PositionStatus.OPEN).values_list(
        "pk", "peak_price", "lowest_price", "stop_loss_percent"
    )
    unchanged = sum(1 for pk, *state in open_rows if tuple(state) == book.seeded[pk])
    closed = Position.objects.filter(status=PositionStatus.CLOSED)
    stop_losses = closed.filter(close_reason=CloseReason.STOP_LOSS).count()
    sold = crashed * HOLDERS_PER_TOKEN
    expected = (TOKENS * HOLDERS_PER_TOKEN, sold, sold)
    if (len(open_rows), closed.count(), stop_losses) != expected:
        raise RuntimeError(
            f"the book was disturbed: {len(open_rows)} open, {closed.count()} closed of which "
            f"{stop_losses} by stop loss; expected {expected[0]} open and {expected[1]} stop losses"
        )
    if ClosedTrade.objects.count() != stop_losses:
        raise RuntimeError("a closed position has no closed trade, or a trade no position")
    return unchanged


# --- Processes and ticks -------------------------------------------------------------------------


def start_beat(engine_settings: dict[str, str], log_dir: Path) -> CeleryProcess:
    argv = celery_beat_argv(log_dir / "celerybeat-schedule")
    return spawn(argv, celery_env(engine_settings), log_dir / "beat.log")


def wait_for_ticks(count: int, processes: list[CeleryProcess]) -> None:
    """Until beat's poll has priced every token `count` times: the workers' connections,
    caches and imports are warm, and a tick is known to leave the book alone."""
    from prices.selectors import poll_tick_last

    deadline = time.monotonic() + TICK_TIMEOUT_SECONDS
    seen, last = 0, poll_tick_last()
    while seen < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{seen} price polls within {TICK_TIMEOUT_SECONDS} s: {last}")
        check_running(processes)
        record = poll_tick_last()
        if record is not None and record != last:
            # Not tracked_tokens == TOKENS: trading.automation.tracked_tokens() lists a token once per
            # open position (Position's default ordering leaks into its DISTINCT).
            if record.stale_tokens:
                raise RuntimeError(f"the price poll did not price every token: {record}")
            seen, last = seen + 1, record
        time.sleep(0.05)


# --- Measurement ---------------------------------------------------------------------------------


def crash_tokens(
    market, quotes: QuoteClock, rng, book: Book, processes, period: float
) -> tuple[list[Crash], int]:
    """Crash the oldest token, wait for its five sales, list a new token in its place; repeat.
    Returns the measured crashes and how many had to be dropped (see `crash`)."""
    crashes, missed = [], 0
    for index in range(WARMUP_CRASHES + CRASHES):
        # A random moment of the poll period, as a real price move would be.
        time.sleep(rng.uniform(0, period))
        check_running(processes)
        mint = book.queue.popleft()
        result = crash(market, quotes, book, mint)
        # Its holders buy a new token: every agent keeps its 25 positions.
        list_tokens(market, rng, book, [book.group_of.pop(mint)])
        if index < WARMUP_CRASHES:
            continue
        if result is None:
            missed += 1
        else:
            crashes.append(result)
    return crashes, missed


def crash(market, quotes: QuoteClock, book: Book, mint: str) -> Crash | None:
    """Drop the token's price under its stops and wait for every holder's sale.

    None when the observation read from the cache is not the one that triggered the sales
    (a later tick had already replaced it): measuring from it would flatter the figure.
    """
    from trading.models import Position

    pending = set(book.positions.pop(mint))
    floor = book.lowest_stop.pop(mint)
    provider_at = time.time()
    market.set_price(mint, money.price(floor * CRASH_FACTOR))
    # No sale can commit before the price is observed, so until then only Redis is polled.
    observed = None
    while observed is None:
        timed_out(provider_at, f"{mint}: the new price was not observed")
        observed = observation(mint, floor)
        time.sleep(POLL_SECONDS)
    committed: dict[int, float] = {}
    while pending:
        timed_out(provider_at, f"{mint}: {len(pending)} sales not committed")
        closed = closed_by_stop_loss(pending)
        polled_at = time.time()
        for pk in closed:
            committed[pk] = polled_at
            pending.discard(pk)
        time.sleep(POLL_SECONDS)
    filled = {
        pk: closed_at.timestamp()
        for pk, closed_at in Position.objects.filter(pk__in=committed).values_list(
            "pk", "closed_at"
        )
    }
    quoted = {pk: quotes.asked[mint, book.raw_amount.pop(pk)] for pk in committed}
    if observed > min(filled.values()):
        return None
    return Crash(provider_at, observed, quoted, filled, committed)


def timed_out(since: float, what: str) -> None:
    if time.time() - since > SALE_TIMEOUT_SECONDS:
        raise RuntimeError(f"{what} within {SALE_TIMEOUT_SECONDS} s")


def observation(mint: str, floor: Decimal) -> float | None:
    """When the engine observed a price under the stops, from its latest-price cache."""
    from prices.selectors import latest_prices

    latest = latest_prices([mint]).get(mint)
    if latest is None or latest.price_sol >= floor:
        return None
    return latest.observed_at.timestamp()


def closed_by_stop_loss(pending: set[int]) -> list[int]:
    from trading.models import CloseReason, Position, PositionStatus

    rows = Position.objects.filter(pk__in=pending, status=PositionStatus.CLOSED).values_list(
        "pk", "close_reason"
    )
    for pk, reason in rows:
        if reason != CloseReason.STOP_LOSS:
            raise RuntimeError(f"position {pk} closed by {reason}, not by its stop loss")
    return [pk for pk, _ in rows]


def moment(crash: Crash, pk: int, name: str) -> float:
    """A moment of one sale: the crash's own (T0, observed) or the position's."""
    value = getattr(crash, name)
    return value[pk] if isinstance(value, dict) else value


def per_sale(crashes: list[Crash], start: str, end: str) -> list[float]:
    return [moment(c, pk, end) - moment(c, pk, start) for c in crashes for pk in c.committed_at]


def rows(crashes: list[Crash], details: dict) -> list[Measurement]:
    sales = sum(len(c.committed_at) for c in crashes)
    return [
        Measurement(
            "price_to_exit.observed_to_sale",
            f"price observed by the poll -> stop-loss sale committed ({sales} sales, "
            f"{TOKENS * HOLDERS_PER_TOKEN} open positions in {TOKENS} tokens)",
            per_sale(crashes, "observed_at", "committed_at"),
            "ms",
            goal=GOAL_MILLISECONDS,
            details=details,
        ),
        Measurement(
            "price_to_exit.observed_to_quote",
            "price observed -> the sale's quote asked of localnet: rest of the tick, broker, "
            "the task's first reads",
            per_sale(crashes, "observed_at", "quoted_at"),
            "ms",
        ),
        Measurement(
            "price_to_exit.quote_to_fill",
            "quote asked -> the fill in hand (closed_at): the quote's answer, read and filled",
            per_sale(crashes, "quoted_at", "filled_at"),
            "ms",
        ),
        Measurement(
            "price_to_exit.fill_to_commit",
            "closed_at -> sale committed: the sale's transaction, its commit, the 2 ms poll",
            per_sale(crashes, "filled_at", "committed_at"),
            "ms",
        ),
        Measurement(
            "price_to_exit.observed_to_last_sale",
            f"price observed -> the last of the token's {HOLDERS_PER_TOKEN} sales committed (per token)",
            [max(c.committed_at.values()) - c.observed_at for c in crashes],
            "ms",
        ),
        Measurement(
            "price_to_exit.provider_to_sale",
            "price changed at the provider (localnet) -> sale committed: includes the poll wait",
            per_sale(crashes, "provider_at", "committed_at"),
            "ms",
        ),
        Measurement(
            "price_to_exit.provider_to_observed",
            "price changed at the provider -> observed by the next poll (per token)",
            [c.observed_at - c.provider_at for c in crashes],
            "ms",
        ),
    ]


if __name__ == "__main__":
    child_main(run)
