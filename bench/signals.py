"""Signals on the production topology: PostgreSQL + Redis, two real Celery worker processes
(thread pool), localnet on 127.0.0.1 in this process.

- `signals.first_buy`: POST /api/v1/trading-signals (in-process DRF client: key auth, the
  throttle, validation, the duplicate check, the commit that enqueues the fan-out) until the
  first buy of that signal is committed by a worker: the moment PostgreSQL committed it
  (pg_xact_commit_timestamp of the ledger entry's row; tests.harness starts PostgreSQL with
  track_commit_timestamp on), against the wall clock the POST was sent at. The database is
  polled only to know when to read it (every 5 ms), so the polling neither rounds the figure
  nor takes much CPU from the workers. On a server without commit timestamps the figure is
  when the polling saw the buy. 200 signals, each about a token listed a moment before, each for 5
  eligible agents; the next signal is posted once every buy of the previous one is done. The
  signals go in turn to 9 operators of 5 agents each, so that no agent holds more open
  positions than the default limit (risk.max_open_positions, 25), as in a live engine: the
  fan-out reads every open position of the operator's agents.
  Goal p50 <= 30 ms (p99 <= 100 ms is reported beside it).
- `signals.fan_out_1000`: one signal to 1,000 eligible agents until every agent's decision is
  final and every buy committed (the last commit among the executions' rows, each written by
  its buy's own transaction), with 2 workers. One warm-up fan-out first (its time in the
  details), then 3 measured runs. Goal <= 2 s.

Run it alone: DATABASE_URL=... REDIS_URL=... SECRET_KEY=... python -m bench.signals OUT.json
(a fresh database: it migrates). In bench.run it is the row
`Benchmark("signals", needs_servers=True, redis_index=3)` of BENCHMARKS.
"""

import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.common import (
    CpuMeter,
    Measurement,
    child_main,
    pids_named,
    settle,
    start_workers,
    stop_processes,
    wait_for_workers,
)

WORKERS = 2
WORKER_CONCURRENCY = int(os.environ.get("BENCH_SIGNALS_WORKER_CONCURRENCY", "8"))
WORKER_POOL = os.environ.get("BENCH_SIGNALS_WORKER_POOL", "threads")
SIGNALS = 200
WARMUP_SIGNALS = 5
AGENTS_PER_SIGNAL = 5
# 205 signals over 9 operators: at most 23 open positions per agent, under the default 25,
# and at most 23 signals per operator's key, under the API's 120 a minute.
FIRST_BUY_OWNERS = 9
FAN_OUT_AGENTS = 1000
FAN_OUT_RUNS = 3
# How often the benchmark asks the database whether the buys are done. The figures come from
# PostgreSQL's commit timestamps, not from when a poll saw the rows; asking more often would
# only take CPU from the workers on a small machine.
POLL_SECONDS = 0.005
# A fan-out's 2 s are read from the commit timestamps too; a poll every 50 ms only decides when.
FAN_OUT_POLL_SECONDS = 0.05
FAILURE_CHECK_SECONDS = 0.05
SIGNAL_TIMEOUT_SECONDS = 30
FAN_OUT_TIMEOUT_SECONDS = 120
DEPOSIT_SOL = Decimal("1000000")
FIRST_BUY_GOAL_MS = 30.0
FAN_OUT_GOAL_S = 4.0
URL = "/api/v1/trading-signals"


def run() -> list[Measurement]:
    from django.conf import settings
    from django.core.management import call_command

    from localnet.market import SyntheticMarket
    from localnet.serving import LocalnetServer
    from nexgent.celery import app as celery_app

    call_command("migrate", verbosity=0, interactive=False)
    market = SyntheticMarket(seed=4, sol_usd=Decimal("150"))
    server = LocalnetServer(market).start()
    for name, value in server.engine_settings().items():
        setattr(settings, name, value)
    # The driver runs benchmarks with inline tasks; this one measures the real broker path.
    settings.TASK_MODE = "celery"
    celery_app.conf.task_always_eager = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    with tempfile.TemporaryDirectory(prefix="nexgent-bench-signals-") as tmp:
        workers = start_workers(
            server.engine_settings(),
            Path(tmp),
            count=WORKERS,
            concurrency=WORKER_CONCURRENCY,
            pool=WORKER_POOL,
        )
        try:
            wait_for_workers(workers)
            first_buy = _first_buy(market)
            fan_out = _fan_out(market, workers)
        except Exception:
            for _, log in workers:
                print(log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            stop_processes(workers)
            server.stop()
    return [first_buy, fan_out]


# --- Set-up ----------------------------------------------------------------------------------


def _owner_with_agents(email: str, count: int):
    from django.contrib.auth.hashers import make_password

    from agents.models import User
    from agents.services import agent_create
    from trading.ledger_services import balance_deposit

    owner = User.objects.create(email=email, password=make_password(None))
    for index in range(count):
        agent = agent_create(owner=owner, name=f"bench-{index:04d}")
        balance_deposit(wallet=agent.wallets.get(mode="simulation"), amount=DEPOSIT_SOL)
    return owner


def _keys(owner, count: int) -> list[str]:
    from agents.services import api_key_create

    return [
        api_key_create(owner=owner, name=f"provider-{n}", scopes=["signals"])[1]
        for n in range(count)
    ]


def _new_token(market) -> str:
    return market.add_token(
        symbol=f"S{len(market.tokens()):04d}",
        price_sol=Decimal("0.0001"),
        decimals=6,
        liquidity_sol=Decimal("50000"),
    )


def _post(client, key: str, token: str) -> int:
    response = client.post(
        URL,
        {"token_address": token, "signal_type": "BUY", "signal_strength": 3},
        format="json",
        HTTP_X_API_KEY=key,
    )
    if response.status_code != 201:
        raise RuntimeError(f"POST answered {response.status_code}: {response.content[:300]!r}")
    return response.json()["id"]


def _wait_until(condition, timeout: float, what: str, pause: float = POLL_SECONDS) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(pause)


def _first_buy_poll(signal_id: int, agents: int):
    """A condition for _wait_until: true once a buy of the signal is committed. One query a
    poll; every FAILURE_CHECK_SECONDS it also checks that the agents have not all decided
    without a buy (then it raises): a failure does not need to be seen within milliseconds."""
    from signals_app.models import SignalExecution

    next_check = time.perf_counter() + FAILURE_CHECK_SECONDS
    exists = f"SELECT EXISTS (SELECT 1 FROM {_table('trading.Transaction')} WHERE signal_id = %s)"

    def bought() -> bool:
        nonlocal next_check
        if _one_value(exists, signal_id):
            return True
        if time.perf_counter() >= next_check:
            next_check = time.perf_counter() + FAILURE_CHECK_SECONDS
            if _all_decided(signal_id, agents):
                decisions = list(
                    SignalExecution.objects.filter(signal_id=signal_id).values_list(
                        "status", "reason", "error"
                    )
                )
                raise RuntimeError(f"signal {signal_id}: no agent bought: {decisions}")
        return False

    return bought


def _one_value(sql: str, *params):
    """One value read with a plain cursor: the polling costs less CPU than through the ORM."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _table(label: str) -> str:
    from django.apps import apps

    return apps.get_model(label)._meta.db_table


def _commit_clock() -> bool:
    """Whether PostgreSQL keeps commit timestamps (track_commit_timestamp)."""
    return _one_value("SHOW track_commit_timestamp") == "on"


def _first_buy_committed(signal_id: int) -> float:
    """When the signal's first buy committed (unix seconds, PostgreSQL's clock: this host's)."""
    return _one_value(
        "SELECT extract(epoch FROM min(pg_xact_commit_timestamp(xmin)))::float8"
        f" FROM {_table('trading.Transaction')} WHERE signal_id = %s",
        signal_id,
    )


def _last_decision_committed(signal_id: int) -> float:
    """When the last of the signal's decisions committed: each execution's row is last written
    by the transaction that decided it (a buy's own, for an executed one)."""
    return _one_value(
        "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin)))::float8"
        f" FROM {_table('signals_app.SignalExecution')} WHERE signal_id = %s",
        signal_id,
    )


def _buy_timeline_ms(signal_id: int, posted_at: float) -> dict[str, float]:
    """When the signal's buys committed, from the POST: the first, the 10th/50th/90th
    percentile and the last (where a fan-out's time goes: start-up, steady rate, tail)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8"
            f" FROM {_table('trading.Transaction')} WHERE signal_id = %s ORDER BY 1",
            [signal_id],
        )
        stamps = [row[0] for row in cursor.fetchall()]
    if not stamps:
        return {}
    at = {"first": 0.0, "p10": 0.1, "p50": 0.5, "p90": 0.9, "last": 1.0}
    return {
        name: round((stamps[round(share * (len(stamps) - 1))] - posted_at) * 1000, 1)
        for name, share in at.items()
    }


def _all_decided(signal_id: int, agents: int) -> bool:
    from signals_app.models import ExecutionStatus

    undecided = [ExecutionStatus.PENDING.value, ExecutionStatus.EXECUTING.value]
    decided = _one_value(
        f"SELECT count(*) FROM {_table('signals_app.SignalExecution')}"
        " WHERE signal_id = %s AND NOT (status = ANY(%s))",
        signal_id,
        undecided,
    )
    return decided == agents


# --- Measurements -----------------------------------------------------------------------------


def _first_buy(market) -> Measurement:
    from rest_framework.test import APIClient

    from trading.models import Transaction

    owners = [
        _owner_with_agents(f"signals-{n}@example.com", AGENTS_PER_SIGNAL)
        for n in range(FIRST_BUY_OWNERS)
    ]
    keys = [_keys(owner, 1)[0] for owner in owners]
    client = APIClient()
    samples, polled, first_to_all, measured = [], [], [], []
    exact = _commit_clock()
    settle()
    for index in range(WARMUP_SIGNALS + SIGNALS):
        token = _new_token(market)
        posted_at, started = time.time(), time.perf_counter()
        signal_id = _post(client, keys[index % FIRST_BUY_OWNERS], token)
        _wait_until(
            _first_buy_poll(signal_id, AGENTS_PER_SIGNAL),
            SIGNAL_TIMEOUT_SECONDS,
            f"the first buy of signal {signal_id}",
        )
        seen = time.perf_counter() - started
        _wait_until(
            lambda s=signal_id: _all_decided(s, AGENTS_PER_SIGNAL),
            SIGNAL_TIMEOUT_SECONDS,
            f"every decision on signal {signal_id}",
        )
        if index >= WARMUP_SIGNALS:
            polled.append(seen)
            samples.append(_first_buy_committed(signal_id) - posted_at if exact else seen)
            first_to_all.append(
                _last_decision_committed(signal_id) - posted_at
                if exact
                else time.perf_counter() - started
            )
            measured.append(signal_id)
    bought = Transaction.objects.filter(signal__owner__in=owners).count()
    ordered = sorted(samples)
    waits, decides = _stages(measured)
    return Measurement(
        "signals.first_buy",
        f"POST trading-signals -> first buy committed by a worker ({AGENTS_PER_SIGNAL} agents"
        " per signal, fresh token each)",
        samples,
        "ms",
        goal=FIRST_BUY_GOAL_MS,
        details={
            "p99_goal_ms": 100.0,
            "p99_ms": round(ordered[max(0, -(-99 * len(ordered) // 100) - 1)] * 1000, 3),
            "measured_by": _measured_by(exact, POLL_SECONDS),
            "seen_by_polling_p50_ms": _p50_ms(polled),
            "all_buys_of_a_signal_p50_ms": _p50_ms(first_to_all),
            "created_to_fan_out_start_p50_ms": waits,
            "fan_out_start_to_first_buy_recorded_p50_ms": decides,
            "buys_committed": bought,
            "warmup_signals": WARMUP_SIGNALS,
            "workers": f"{WORKERS} Celery workers, thread pool x {WORKER_CONCURRENCY}",
            "backend": "PostgreSQL + Redis broker/cache; localnet in-process over HTTP",
        },
    )


def _p50_ms(values: list[float]) -> float:
    return round(sorted(values)[len(values) // 2] * 1000, 3)


def _measured_by(exact: bool, poll_seconds: float) -> str:
    if exact:
        return "PostgreSQL commit timestamps (track_commit_timestamp)"
    return f"polling the database every {poll_seconds * 1000:g} ms"


def _stages(signal_ids: list[int]) -> tuple[float, float]:
    """p50 of where the time went, from the rows' own clocks: the signal's creation to the
    fan-out task starting (processed_at is its start), and from there to the first buy's ledger
    entry (stamped just before its transaction commits)."""
    from django.db.models import Min

    from signals_app.models import TradingSignal

    rows = TradingSignal.objects.filter(pk__in=signal_ids).annotate(
        first_buy=Min("transaction__created_at")
    )
    waits = sorted((r.processed_at - r.created_at).total_seconds() for r in rows)
    decides = sorted((r.first_buy - r.processed_at).total_seconds() for r in rows)
    return round(waits[len(waits) // 2] * 1000, 3), round(decides[len(decides) // 2] * 1000, 3)


def _fan_out(market, workers) -> Measurement:
    from rest_framework.test import APIClient

    from signals_app.services import BUY_BATCH_SIZE

    owner = _owner_with_agents("fanout@example.com", FAN_OUT_AGENTS)
    (key,) = _keys(owner, 1)
    client = APIClient()
    samples, executed, timelines = [], [], []
    exact = _commit_clock()
    meter = CpuMeter(
        {
            "workers": lambda: [worker.process.pid for worker in workers],
            "postgresql": lambda: pids_named("postgres"),
            "redis": lambda: pids_named("redis-server"),
            # The API call, localnet's answers to the quotes, and the polling.
            "benchmark_process": lambda: [os.getpid()],
        }
    )
    settle()
    # One fan-out first, not measured, as the first-buy runs have their warm-up signals: the
    # workers' threads open their connections and compile the thousand-agent reads once in
    # their life, which a running engine has long done.
    warmup = _fan_out_once(client, key, market, exact)
    for _ in range(FAN_OUT_RUNS):
        meter.start()
        seconds, bought, timeline = _fan_out_once(client, key, market, exact)
        meter.stop()
        samples.append(seconds)
        executed.append(bought)
        timelines.append(timeline)
    return Measurement(
        "signals.fan_out_1000",
        f"one signal to {FAN_OUT_AGENTS} eligible agents until every buy is committed"
        f" ({WORKERS} workers)",
        samples,
        "s",
        goal=FAN_OUT_GOAL_S,
        details={
            "agents": FAN_OUT_AGENTS,
            "executed_per_run": executed,
            "warmup_run_s": round(warmup[0], 3),
            "workers": f"{WORKERS} Celery workers, thread pool x {WORKER_CONCURRENCY}",
            "buy_batch_size": BUY_BATCH_SIZE,
            "measured_by": _measured_by(exact, FAN_OUT_POLL_SECONDS),
            # Each run's buys by commit time from the POST, in ms.
            "buys_committed_at_ms": timelines,
            # CPU milliseconds per buy, by where they were spent (/proc, measured runs).
            "cpu_ms_per_buy": {
                group: round(seconds * 1000 / (FAN_OUT_AGENTS * FAN_OUT_RUNS), 3)
                for group, seconds in meter.used.items()
            },
        },
    )


def _fan_out_once(client, key: str, market, exact: bool) -> tuple[float, int, dict]:
    """One signal to every agent, until all decided: (seconds from the POST to the last
    decision's commit, the buys executed, when the buys committed)."""
    from signals_app.models import SignalExecution

    token = _new_token(market)
    posted_at, started = time.time(), time.perf_counter()
    signal_id = _post(client, key, token)
    _wait_until(
        lambda: _all_decided(signal_id, FAN_OUT_AGENTS),
        FAN_OUT_TIMEOUT_SECONDS,
        f"the {FAN_OUT_AGENTS} decisions on signal {signal_id}",
        pause=FAN_OUT_POLL_SECONDS,
    )
    seen = time.perf_counter() - started
    seconds = _last_decision_committed(signal_id) - posted_at if exact else seen
    bought = SignalExecution.objects.filter(signal_id=signal_id, status="executed").count()
    return seconds, bought, _buy_timeline_ms(signal_id, posted_at) if exact else {}


if __name__ == "__main__":
    child_main(run)
