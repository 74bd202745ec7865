"""Worker memory with 10,000 open positions: the resident set of a real Celery worker running
the price poll over the book of bench/tick_10k.py.

The book is tick_10k's, seeded by its own code: 10,000 open positions in 500 tokens, 50 agents
on four rule configurations. Before each poll localnet's prices move to tick_10k's prices of
that tick, which every position was checked to be quiet at, so no tick sells or buys anything
and what is measured is the poll itself. localnet runs in this process on 127.0.0.1; the database is PostgreSQL, the broker, cache and
channel layer Redis.

One Celery worker process on the thread pool (8 threads, as bench/signals.py) is sent
`trading.tasks.price_poll` once every PRICE_POLL_INTERVAL_SECONDS (the production default,
1 s), as beat would send it, or as soon as the previous poll is done when one takes longer.
Each poll fetches the 500 prices in 10 Jupiter Price batches, loads and evaluates the 10,000
positions, broadcasts the prices to the 50 agents and records the tick. While it runs this
process reads the resident set (/proc/<pid>/statm) of every process of the worker's session
every 5 ms; with the thread pool that is the one worker process.

- `worker_rss`: the highest resident set seen during each poll. Goal: max <= 300 MiB.
- `worker_rss.poll`: each poll, from sending it to the tick's record in the cache.
"""

import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench import tick_10k
from bench.common import (
    Measurement,
    check_running,
    child_main,
    print_logs,
    start_workers,
    stop_processes,
    wait_for_workers,
)

# Django models are imported inside the functions that use them: this module is imported
# before child_main has set Django up.

WORKER_CONCURRENCY = 8  # as bench/signals.py
WARMUP_TICKS = 3
TICKS = 20
SAMPLE_SECONDS = 0.005
TICK_TIMEOUT_SECONDS = 60
GOAL_MIB = 300.0
LIQUIDITY_SOL = Decimal("500")
# 500 tokens are 10 Jupiter Price requests a tick, 600 a minute at one tick a second: over the
# default budget of 300, which would leave tokens unpriced and the positions unevaluated. An
# operator tracking this many tokens sets the budget their key allows.
WORKER_SETTINGS = {"JUPITER_PRICE_REQUESTS_PER_MINUTE": "1200"}
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 2**20


def run() -> list[Measurement]:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from localnet.market import SyntheticMarket
    from localnet.serving import LocalnetServer
    from nexgent.celery import app as celery_app

    call_command("migrate", verbosity=0, interactive=False)
    book = tick_10k.seed(random.Random(tick_10k.SEED), datetime.now(UTC) - timedelta(seconds=5))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    market = SyntheticMarket(seed=tick_10k.SEED, sol_usd=tick_10k.SOL_USD)
    for index, (mint, latest) in enumerate(book["prices_at"](0).items()):
        market.add_token(
            symbol=f"TK{index:03d}",
            price_sol=latest.price_sol,
            mint=mint,
            liquidity_sol=LIQUIDITY_SOL,
        )
    # This process sends the polls to the worker; the driver's default runs tasks inline.
    settings.TASK_MODE = "celery"
    celery_app.conf.task_always_eager = False
    period = float(settings.PRICE_POLL_INTERVAL_SECONDS)
    server = LocalnetServer(market).start()
    with tempfile.TemporaryDirectory(prefix="nexgent-bench-rss-") as tmp:
        workers = start_workers(
            server.engine_settings(),
            Path(tmp),
            count=1,
            concurrency=WORKER_CONCURRENCY,
            extra_env=WORKER_SETTINGS,
        )
        try:
            wait_for_workers(workers)
            pid = workers[0].process.pid
            idle = sum(rss_bytes(member) for member in session_pids(pid))
            polls = []
            for tick in range(WARMUP_TICKS + TICKS):
                move_prices(market, book, tick)
                polls.append(poll(pid, workers, period))
            peak = peak_bytes(pid)
            check_quiet(workers)
        except Exception:
            print_logs(workers)
            raise
        finally:
            stop_processes(workers)
            server.stop()
    measured = polls[WARMUP_TICKS:]
    details = {
        "open_positions": tick_10k.AGENTS * tick_10k.POSITIONS_PER_AGENT,
        "tokens": tick_10k.TOKENS,
        "warmup_ticks": WARMUP_TICKS,
        "worker_processes": max(processes for *_, processes in polls),
        "idle_rss_mib": round(idle / MIB, 1),
        "kernel_peak_rss_mib": round(peak / MIB, 1),
        "price_poll_interval_s": period,
        "worker": f"1 Celery worker, thread pool x {WORKER_CONCURRENCY}",
        "worker_settings": WORKER_SETTINGS,
        "backend": "PostgreSQL + Redis broker/cache/channel layer; localnet in-process over HTTP",
    }
    return [
        Measurement(
            "worker_rss",
            "resident set of the Celery worker's processes, highest seen during each price poll "
            "over 10k open positions",
            [rss for rss, _, _ in measured],
            "MiB",
            goal=GOAL_MIB,
            goal_stat="max",
            details=details,
        ),
        Measurement(
            "worker_rss.poll",
            "price_poll on the worker over 10k positions: sent -> the tick's record in the cache",
            [seconds for _, seconds, _ in measured],
            "ms",
        ),
    ]


def move_prices(market, book: dict, tick: int) -> None:
    """tick_10k's prices of this tick: each token a little off the last, none far enough to
    move a peak, a low or a stop."""
    for mint, latest in book["prices_at"](tick).items():
        market.set_price(mint, latest.price_sol)


def poll(pid: int, workers, period: float) -> tuple[int, float, int]:
    """Send one price poll and wait for its tick record, reading the worker's resident set as
    it runs; then wait out the rest of the period. Returns (highest resident set in bytes,
    seconds the poll took, how many processes the worker's session holds)."""
    from prices.selectors import poll_tick_last
    from trading.tasks import price_poll

    before = poll_tick_last()
    members = session_pids(pid)
    started = time.monotonic()
    price_poll.delay()
    highest = 0
    while True:
        highest = max(highest, sum(rss_bytes(member) for member in members))
        record = poll_tick_last()
        if record is not None and record != before:
            break
        if time.monotonic() - started > TICK_TIMEOUT_SECONDS:
            raise RuntimeError(f"no price poll finished within {TICK_TIMEOUT_SECONDS} s")
        check_running(workers)
        time.sleep(SAMPLE_SECONDS)
    seconds = time.monotonic() - started
    if record.stale_tokens:
        raise RuntimeError(f"the price poll left tokens unpriced: {record}")
    time.sleep(max(0.0, started + period - time.monotonic()))
    return highest, seconds, len(members)


def session_pids(session: int) -> list[int]:
    """Every process of a session: the worker and whatever it started (a prefork pool would
    start children; the thread pool starts none)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # Fields after the command name, which is in parentheses and may hold anything.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session:
            pids.append(int(entry.name))
    return pids


def rss_bytes(pid: int) -> int:
    try:
        resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:
        return 0  # a child that exited since the session was listed
    return resident_pages * PAGE_SIZE


def peak_bytes(pid: int) -> int:
    """The kernel's high-water mark of the process's resident set (VmHWM), start-up included."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def check_quiet(workers) -> None:
    """Raise if a poll sold, bought or failed: then the memory would not be the poll's alone."""
    from trading.models import Position, PositionStatus, Transaction, TransactionType

    closed = Position.objects.exclude(status=PositionStatus.OPEN).count()
    swaps = Transaction.objects.filter(type=TransactionType.SWAP).count()
    failed = any("Traceback" in log.read_text() for _, log in workers)
    if closed or swaps or failed:
        raise RuntimeError(
            f"the polls were not quiet: {closed} closed, {swaps} swaps, task failure: {failed}"
        )


if __name__ == "__main__":
    child_main(run)
