"""Crash recovery with real processes (#13): the production topology (uvicorn web, Celery
worker, Celery beat) against PostgreSQL, Redis and localnet, killed with SIGKILL in the middle
of its work and started again.

Signals are posted over HTTP while the worker buys; then the machine dies: worker, web and beat
together. After the restart every signal that was committed is decided for every agent exactly
once and bought once (what a killed worker held, the resume sweep sends again:
docs/decisions.md). Then the market falls through every stop, the worker alone dies while the
sales run (beat keeps ticking), and after its restart every position is sold exactly once.
Throughout, every wallet's balances are the sum of its ledger entries.

The market answers quotes slowly while the load runs, so the kill lands while buys and sales
are in flight on any machine; the test checks that it did, else it would prove nothing."""

import os
import queue
import signal
import subprocess
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from itertools import product
from pathlib import Path

import pytest
import requests

from agents.services import agent_create
from nexgent import money
from signals_app.models import ExecutionStatus, SignalExecution, TradingSignal
from tests.harness import (
    celery_beat_argv,
    celery_worker_argv,
    current_database_url,
    free_port,
    web_argv,
)
from tests.trading.ledger import balances, ledger_effects, nonzero
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, Position, PositionStatus, Transaction, TransactionType

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.topology,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"), reason="needs the PostgreSQL + Redis backend"
    ),
]

AGENTS = 5
TOKENS = 60
DEPOSIT = Decimal("200")  # SOL: a buy is at most 2 SOL, so every agent can buy every token
# A prefork worker, as the Procfile runs it; a kill takes its whole process group.
WORKER_CONCURRENCY = 4
# Long enough that a few buys or sales are always in flight when the kill comes, short enough
# that the load before it takes a few seconds.
QUOTE_DELAY_SECONDS = 0.3
SLOW_QUOTES = 100_000  # the delay applies to this many quotes: all of them until cleared
# Two clients, each pausing between its posts, keep posting while the worker buys, so the web
# dies with posts still coming (a pace of the load, not a measurement).
CLIENTS = 2
CLIENT_PAUSE_SECONDS = 0.1
KILL_AFTER_SIGNALS = TOKENS // 2
KILL_AFTER_EXECUTED = 5
KILL_AFTER_CLOSED = 10
# Deadlines while polling for a state, far beyond what it takes: never a measurement.
START_SECONDS = 60
RECOVERY_SECONDS = 180

UNDECIDED = [ExecutionStatus.PENDING, ExecutionStatus.EXECUTING]

ENGINE_ENV = {
    "NEXGENT_TASK_MODE": "celery",
    "PRICE_POLL_INTERVAL_SECONDS": "0.5",
    "SIGNAL_RESUME_INTERVAL_SECONDS": "1",
    "SIGNAL_RESUME_AFTER_SECONDS": "5",
    # A resumed buy must buy rather than expire (signal_expired): the test counts the buys, and
    # a slow machine must not turn a late buy into a different outcome.
    "SIGNAL_BUY_MAX_AGE_SECONDS": "3600",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
}


class Topology:
    """The production processes, each started, killed and started again by name. Each start
    writes a log of its own, kept for the failure message."""

    def __init__(self, directory: Path, env: dict[str, str]):
        self.directory = directory
        self.env = env
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.argv = {
            "web": web_argv(port),
            "worker": celery_worker_argv(WORKER_CONCURRENCY, pool="prefork"),
            "beat": celery_beat_argv(directory / "celerybeat-schedule"),
        }
        self.running: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, list[Path]] = defaultdict(list)

    def start(self, *names: str) -> None:
        for name in names:
            log = self.directory / f"{name}-{len(self.logs[name]) + 1}.log"
            self.logs[name].append(log)
            with open(log, "wb") as output:
                self.running[name] = subprocess.Popen(
                    self.argv[name],
                    cwd=REPO_ROOT,
                    env=self.env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        if "web" in names:
            self.wait(self._web_answers, START_SECONDS, "the web process to answer /health")

    def kill(self, *names: str) -> None:
        """SIGKILL: no task is acknowledged, no transaction finished, nothing cleaned up, as
        when a machine dies or the kernel's OOM killer strikes."""
        killed = [self.running.pop(name) for name in names]
        for process in killed:
            os.killpg(process.pid, signal.SIGKILL)
        for process in killed:
            process.wait()

    def stop(self) -> None:
        for process in self.running.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.running.clear()

    def wait(self, condition, seconds: float, what: str) -> None:
        """Polls `condition` until it holds; fails if a running process exits meanwhile."""
        deadline = time.monotonic() + seconds
        while not condition():
            for name, process in self.running.items():
                if process.poll() is not None:
                    pytest.fail(f"{name} exited with {process.returncode}\n{self.log_tails()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}\n{self.log_tails()}")
            time.sleep(0.1)

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for paths in self.logs.values()
            for path in paths
        )

    def _web_answers(self) -> bool:
        try:
            return requests.get(f"{self.base}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False


@pytest.fixture
def topology(localnet, tmp_path):
    env = {
        **os.environ,
        **ENGINE_ENV,
        "DATABASE_URL": current_database_url(),
        **localnet.engine_settings(),
    }
    processes = Topology(tmp_path, env)
    yield processes
    processes.stop()


class Load:
    """Signals posted by a few clients at once, one token each, until the tokens run out or
    the web stops answering. `created`: signal id -> token of each POST answered 201;
    `unanswered`: tokens whose POST got no answer (committed or not, the database says).
    Each signal carries an Idempotency-Key of its token, as a client that may have to ask
    again sends."""

    def __init__(self, base: str, api_key: str, tokens: list[str]):
        self.url = f"{base}/api/v1/trading-signals"
        self.api_key = api_key
        self.tokens: queue.SimpleQueue[str] = queue.SimpleQueue()
        for token in tokens:
            self.tokens.put(token)
        self.created: dict[int, str] = {}
        self.unanswered: list[str] = []
        self.refused: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()
        self._clients = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> None:
        for client in self._clients:
            client.start()

    def join(self) -> None:
        for client in self._clients:
            client.join(timeout=30)
        assert not any(client.is_alive() for client in self._clients), "a client hangs"

    def _client(self) -> None:
        with requests.Session() as session:
            while True:
                try:
                    token = self.tokens.get_nowait()
                except queue.Empty:
                    return
                try:
                    response = self.post(session, token)
                except requests.RequestException:
                    with self._lock:
                        self.unanswered.append(token)
                    return  # the web is gone
                with self._lock:
                    if response.status_code == 201:
                        self.created[response.json()["id"]] = token
                    else:
                        self.refused.append((token, response.status_code, response.text))
                time.sleep(CLIENT_PAUSE_SECONDS)

    def post(self, session: requests.Session, token: str) -> requests.Response:
        return session.post(
            self.url,
            json={"token_address": token, "signal_type": "BUY", "signal_strength": 5},
            headers={"X-API-Key": self.api_key, "Idempotency-Key": f"crash-{token}"},
            timeout=10,
        )


def test_every_committed_signal_and_exit_is_processed_once_across_kills(
    topology, market, user, api_key
):
    agents = [
        agent_create(owner=user, name=f"Crash {n}", config={"risk": {"max_open_positions": TOKENS}})
        for n in range(AGENTS)
    ]
    wallets = [agent.wallets.get(mode="simulation") for agent in agents]
    for wallet in wallets:
        balance_deposit(wallet=wallet, amount=DEPOSIT)
    tokens = [
        market.add_token(
            symbol=f"CR{n:02d}",
            price_sol=Decimal("0.001"),
            decimals=6,
            liquidity_sol=Decimal("3000"),
        )
        for n in range(TOKENS)
    ]
    topology.start("web", "worker", "beat")

    # --- Signals: the machine dies while signals are posted and bought --------------------------
    market.inject_delay("jupiter_quote", QUOTE_DELAY_SECONDS, count=SLOW_QUOTES)
    load = Load(topology.base, api_key, tokens)
    load.start()
    topology.wait(
        lambda: (
            len(load.created) >= KILL_AFTER_SIGNALS
            and SignalExecution.objects.filter(status=ExecutionStatus.EXECUTED).count()
            >= KILL_AFTER_EXECUTED
        ),
        START_SECONDS,
        "signals posted and the first buys made",
    )
    topology.kill("worker", "web", "beat")
    load.join()
    assert not load.refused, load.refused

    committed = dict(TradingSignal.objects.filter(owner=user).values_list("pk", "token_address"))
    assert load.created.items() <= committed.items()
    # A POST the web died in may have committed its signal, or not: the database says which.
    assert set(committed.values()) - set(load.created.values()) <= set(load.unanswered)
    unfinished = _unfinished(committed)
    assert unfinished, "the kill came after all the work was done: it proves nothing"

    market.clear_faults("jupiter_quote")
    topology.start("web", "worker", "beat")
    # A client whose POST got no answer asks again with the same Idempotency-Key: a signal the
    # dead web had committed is answered as it was (200, replayed), one it had not is recorded.
    with requests.Session() as session:
        for token in load.unanswered:
            response = load.post(session, token)
            assert response.status_code in (200, 201), response.text
            signal_id = response.json()["id"]
            if token in committed.values():
                assert response.status_code == 200
                assert response.headers["Idempotent-Replayed"] == "true"
                assert committed[signal_id] == token
            else:
                assert response.status_code == 201
                committed[signal_id] = token
    topology.wait(
        lambda: _all_decided(committed, AGENTS),
        RECOVERY_SECONDS,
        f"{len(committed)} signals to be decided for every agent "
        f"({len(unfinished)} unfinished at the kill)",
    )
    assert dict(TradingSignal.objects.values_list("pk", "token_address")) == committed
    positions = _assert_bought_once(committed, agents)
    for wallet in wallets:
        _assert_ledger_consistent(wallet)
    listed = requests.get(
        f"{topology.base}/api/v1/trading-signals",
        headers={"X-API-Key": api_key},
        params={"limit": TOKENS},
        timeout=10,
    )
    assert listed.status_code == 200, listed.text
    summaries = {row["id"]: row["executions_summary"] for row in listed.json()["signals"]}
    assert summaries == {
        signal_id: {"executed": AGENTS, "skipped": 0, "failed": 0, "pending": 0}
        for signal_id in committed
    }

    # --- Exits: the market falls through every stop and the worker dies while it sells ----------
    market.inject_delay("jupiter_quote", QUOTE_DELAY_SECONDS, count=SLOW_QUOTES)
    for token in set(committed.values()):
        market.set_price(token, market.price_sol(token) / 2)  # the default stop is -32%
    topology.wait(
        lambda: ClosedTrade.objects.filter(position_id__in=positions).count() >= KILL_AFTER_CLOSED,
        START_SECONDS,
        "the first stop-loss sales",
    )
    topology.kill("worker")
    still_open = Position.objects.filter(pk__in=positions, status=PositionStatus.OPEN).count()
    assert still_open, "the kill came after every sale: it proves nothing"

    market.clear_faults("jupiter_quote")
    topology.start("worker")
    topology.wait(
        lambda: not Position.objects.filter(pk__in=positions, status=PositionStatus.OPEN).exists(),
        RECOVERY_SECONDS,
        f"{len(positions)} positions to be closed ({still_open} open at the kill)",
    )
    _assert_sold_once(positions)
    for wallet in wallets:
        _assert_ledger_consistent(wallet)
        _assert_cash_flows_add_up(wallet)


def _unfinished(committed: dict[int, str]) -> set[int]:
    """Signals still waiting for their fan-out or for a buy."""
    never_fanned_out = TradingSignal.objects.filter(pk__in=committed, processed_at__isnull=True)
    waiting = SignalExecution.objects.filter(signal_id__in=committed, status__in=UNDECIDED)
    return set(never_fanned_out.values_list("pk", flat=True)) | set(
        waiting.values_list("signal_id", flat=True)
    )


def _all_decided(committed: dict[int, str], agents: int) -> bool:
    decided = SignalExecution.objects.filter(signal_id__in=committed).exclude(status__in=UNDECIDED)
    return decided.count() == len(committed) * agents


def _assert_bought_once(committed: dict[int, str], agents) -> dict[int, tuple[int, int]]:
    """Every agent bought every committed signal's token exactly once: one execution, one
    position and one buy entry per (signal, agent), tied together. Returns the positions by id,
    each with its (signal, agent)."""
    expected = set(product(committed, [agent.pk for agent in agents]))
    executions = {
        (signal_id, agent_id): (status, reason, position_id, transaction_id)
        for signal_id, agent_id, status, reason, position_id, transaction_id in (
            SignalExecution.objects.filter(signal_id__in=committed).values_list(
                "signal_id", "agent_id", "status", "reason", "position_id", "transaction_id"
            )
        )
    }
    assert set(executions) == expected
    not_bought = {key: row[:2] for key, row in executions.items() if row[0] != "executed"}
    assert not not_bought, f"{len(not_bought)} not bought, e.g. {next(iter(not_bought.items()))}"

    positions = list(
        Position.objects.filter(signal_id__in=committed).values_list(
            "pk", "signal_id", "agent_id", "token_address"
        )
    )
    twice = [key for key, n in Counter((s, a) for _, s, a, _ in positions).items() if n > 1]
    assert not twice, f"bought twice: {twice}"
    assert {(s, a) for _, s, a, _ in positions} == expected
    assert all(token == committed[s] for _, s, _, token in positions)

    buys = list(
        Transaction.objects.filter(signal_id__in=committed).values_list(
            "pk", "signal_id", "agent_id", "type", "idempotency_key", "position_id"
        )
    )
    assert len(buys) == len(expected), f"{len(buys)} buy entries for {len(expected)} buys"
    by_key = {(s, a): (pk, kind, key, position) for pk, s, a, kind, key, position in buys}
    for (signal_id, agent_id), (pk, kind, key, position_id) in by_key.items():
        assert kind == TransactionType.SWAP and key == f"buy:{signal_id}:{agent_id}"
        assert executions[(signal_id, agent_id)][2:] == (position_id, pk)
    return {pk: (s, a) for pk, s, a, _ in positions}


def _assert_sold_once(positions: dict[int, tuple[int, int]]) -> None:
    """Every position closed at its stop, with exactly one sale entry and one closed trade, and
    nothing else written for it beside its buy."""
    closed = dict(Position.objects.filter(pk__in=positions).values_list("pk", "close_reason"))
    assert closed == dict.fromkeys(positions, "stop_loss")
    entries = defaultdict(list)
    for position_id, key in Transaction.objects.filter(position_id__in=positions).values_list(
        "position_id", "idempotency_key"
    ):
        entries[position_id].append(key)
    assert {position_id: sorted(keys) for position_id, keys in entries.items()} == {
        position_id: sorted([f"buy:{s}:{a}", f"close:{position_id}"])
        for position_id, (s, a) in positions.items()
    }
    trades = dict(
        ClosedTrade.objects.filter(position_id__in=positions).values_list(
            "position_id", "received_sol"
        )
    )
    sales = dict(
        Transaction.objects.filter(
            position_id__in=positions, idempotency_key__startswith="close:"
        ).values_list("position_id", "output_amount")
    )
    realized = dict(Position.objects.filter(pk__in=positions).values_list("pk", "realized_sol"))
    assert trades == sales == realized


def _assert_ledger_consistent(wallet) -> None:
    """The wallet's balances are the sum of its ledger entries, and each open position holds
    what the wallet holds of its token (one open position per token)."""
    held = balances(wallet)
    assert nonzero(ledger_effects(wallet)) == nonzero(held)
    for token, remaining in Position.objects.filter(
        wallet=wallet, status=PositionStatus.OPEN
    ).values_list("token_address", "remaining_amount"):
        assert held.get(token) == remaining


def _assert_cash_flows_add_up(wallet) -> None:
    """All positions closed: the wallet holds no token, and its SOL is the deposit, less what
    every position cost, plus what every sale credited (once)."""
    held = nonzero(balances(wallet))
    spent = received = Decimal(0)
    for invested, realized in Position.objects.filter(wallet=wallet).values_list(
        "total_invested_sol", "realized_sol"
    ):
        spent += invested
        received += realized
    assert held == {money.WSOL_MINT: DEPOSIT - spent + received}
