"""A signal's buys in batches: the fan-out buys for its first batch itself and dispatches one
task per further batch. Within a batch every agent is claimed and bought on its own, so one
agent's failure, an overlapping or repeated delivery, or a redelivery after a crash never costs
another agent its buy nor buys twice; the kill switch is read again before every buy."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.services import agent_create
from nexgent.celery import app as celery_app
from prices.models import Token
from signals_app import services
from signals_app.models import SignalExecution, TradingSignal
from signals_app.services import signal_create, signal_execute_batch, signal_fan_out
from signals_app.tasks import signal_execute_batch as signal_execute_batch_task
from signals_app.tasks import signal_fan_out as signal_fan_out_task
from signals_app.tasks import signal_received
from tests.backends import on_postgres
from tests.trading.ledger import Racers
from tests.trading.test_races import _tail, workers  # noqa: F401 - getfixturevalue("workers")
from trading.ledger_services import balance_deposit
from trading.models import Position, Transaction
from trading.risk_services import kill_switch_set

pytestmark = pytest.mark.django_db

# Measured on both backends, for a token whose decimals are known. A buy (sized on the SOL
# balance the batch read): its transaction (a savepoint here, inside the test's transaction),
# the kill switch, the locking read of the balances, the SOL balance, the token's new balance
# row, the position, the ledger entry and the execution it records. A batch: its executions,
# the wallets, SOL balances and open positions, the kill switch, the pauses, the wallet rows
# and the token's decimals.
QUERIES_PER_BUY = 9
QUERIES_PER_BATCH = 8


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="WIF", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("5000")
    )


def _agents(owner, count):
    agents = []
    for n in range(count):
        agent = agent_create(owner=owner, name=f"Agent {n:03}")
        balance_deposit(wallet=agent.wallets.get(mode="simulation"), amount=Decimal("10"))
        agents.append(agent)
    return agents


def _signal(owner, token, *, dispatch: bool = False):
    """A recorded signal; with `dispatch`, its fan-out runs once the signal commits, as the
    API has it (in a transactional test at once)."""
    signal, _ = signal_create(
        owner=owner, token_address=token, signal_type="BUY", signal_strength=3
    )
    if dispatch:
        signal_received(signal)
    return signal


def _statuses(signal) -> dict[int, str]:
    return dict(SignalExecution.objects.filter(signal=signal).values_list("agent_id", "status"))


def _assert_bought_once_each(signal, agents) -> None:
    assert _statuses(signal) == {agent.pk: "executed" for agent in agents}
    assert Position.objects.filter(signal=signal).count() == len(agents)
    keys = Transaction.objects.filter(signal=signal).values_list("idempotency_key", flat=True)
    assert sorted(keys) == sorted(f"buy:{signal.pk}:{agent.pk}" for agent in agents)


@pytest.mark.parametrize("decimals", [6, 0])
def test_the_fan_out_hands_out_the_other_batches_then_buys_the_first_with_the_decimals(
    localnet, market, user, monkeypatch, django_capture_on_commit_callbacks, decimals
):
    token = market.add_token(
        symbol="WIF", price_sol=Decimal("0.001"), decimals=decimals, liquidity_sol=Decimal("5000")
    )
    monkeypatch.setattr(services, "BUY_BATCH_SIZE", 2)
    agents = _agents(user, 5)
    signal = _signal(user, token)
    with CaptureQueriesContext(connection) as queries:
        signal_fan_out_task(signal.pk)  # eager tasks: each batch runs as it is handed out

    _assert_bought_once_each(signal, agents)
    decided = SignalExecution.objects.filter(signal=signal).order_by("updated_at", "pk")
    first, second, *others = [agent.pk for agent in agents]
    # Eager tasks: the handed-out batches (agents 3-4, agent 5) ran as they were handed out,
    # then the fan-out bought its own (agents 1-2).
    assert list(decided.values_list("agent_id", flat=True)) == [*others, first, second]
    # The fan-out looked the decimals up (and stored them) once; the batches were handed them
    # and none read them again.
    token_reads = [
        q["sql"]
        for q in queries
        if Token._meta.db_table in q["sql"] and q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert len(token_reads) == 1
    assert Token.objects.get(mint=token).decimals == decimals
    assert set(Position.objects.filter(signal=signal).values_list("token_decimals", flat=True)) == {
        decimals
    }


def test_overlapping_and_repeated_batches_buy_each_agent_once(localnet, user, token):
    agents = _agents(user, 3)
    first, second, third = (agent.pk for agent in agents)
    signal = _signal(user, token)
    fan_out = signal_fan_out(signal_id=signal.pk)

    decided = signal_execute_batch(signal_id=signal.pk, agent_ids=[first, second])
    assert [e.agent_id for e in decided] == [first, second]
    decided = signal_execute_batch(signal_id=signal.pk, agent_ids=[second, third])
    assert [e.agent_id for e in decided] == [third]
    assert signal_execute_batch(signal_id=signal.pk, agent_ids=[first, second, third]) == []
    # The fan-out's own batch, late: every agent was claimed meanwhile.
    assert signal_execute_batch(signal_id=signal.pk, agent_ids=fan_out.pending) == []
    assert services.signal_execute_decided(fan_out, fan_out.pending) == []

    _assert_bought_once_each(signal, agents)


def test_an_agent_claimed_by_a_crashed_delivery_is_left_alone(localnet, user, token):
    crashed, other = _agents(user, 2)
    signal = _signal(user, token)
    signal_fan_out(signal_id=signal.pk)
    # A worker claimed this agent and died before recording the outcome.
    SignalExecution.objects.filter(signal=signal, agent=crashed).update(status="executing")

    signal_execute_batch(signal_id=signal.pk, agent_ids=[crashed.pk, other.pk])

    assert _statuses(signal) == {crashed.pk: "executing", other.pk: "executed"}
    assert not Position.objects.filter(agent=crashed).exists()


def test_a_failing_buy_in_a_batch_leaves_the_next_agents_theirs(localnet, market, user, token):
    agents = _agents(user, 4)
    signal = _signal(user, token)
    signal_fan_out(signal_id=signal.pk)
    market.inject_fault("jupiter_quote", status=400, count=1)  # the first agent's quote

    signal_execute_batch(signal_id=signal.pk, agent_ids=[agent.pk for agent in agents])

    statuses = _statuses(signal)
    assert statuses[agents[0].pk] == "failed"
    assert [statuses[agent.pk] for agent in agents[1:]] == ["executed"] * 3


def _decided(owner, token, count):
    """A signal and `count` new agents whose decision on it is pending, as a fan-out left them
    for a batch to buy."""
    signal = _signal(owner, token)
    agents = _agents(owner, count)
    for agent in agents:
        SignalExecution.objects.create(signal=signal, agent=agent)
    return signal, agents


def test_a_batch_costs_a_fixed_number_of_queries_plus_a_few_per_buy(
    localnet, user, other_user, token
):
    services.token_decimals(token)  # known, as the fan-out leaves it
    counts = []
    for owner, count in ((user, 1), (other_user, 4)):
        signal, agents = _decided(owner, token, count)
        with CaptureQueriesContext(connection) as queries:
            signal_execute_batch(signal_id=signal.pk, agent_ids=[agent.pk for agent in agents])
        _assert_bought_once_each(signal, agents)
        counts.append(len(queries))
    assert counts == [QUERIES_PER_BATCH + QUERIES_PER_BUY, QUERIES_PER_BATCH + 4 * QUERIES_PER_BUY]


def test_the_fan_outs_own_batch_buys_on_what_the_fan_out_read(localnet, user, token):
    """No re-reads between the decisions and the first buy: the wallet rows, then each buy."""
    agents = _agents(user, 3)
    signal = _signal(user, token)
    fan_out = signal_fan_out(signal_id=signal.pk)

    with CaptureQueriesContext(connection) as queries:
        decided = services.signal_execute_decided(fan_out, fan_out.pending)

    assert [execution.agent_id for execution in decided] == [agent.pk for agent in agents]
    _assert_bought_once_each(signal, agents)
    assert len(queries) == 1 + 3 * QUERIES_PER_BUY


def test_a_halt_thrown_during_a_batch_stops_every_buy_not_yet_written(
    transactional_db, localnet, market, user, token
):
    # Decided as a fan-out leaves them, without one.
    signal, agents = _decided(user, token, 3)
    market.inject_delay("jupiter_quote", seconds=1.0)  # the batch's first quote
    batch = threading.Thread(
        target=_in_thread(signal_execute_batch),
        kwargs={"signal_id": signal.pk, "agent_ids": [agent.pk for agent in agents]},
    )
    batch.start()
    deadline = time.monotonic() + 10
    while not market.recorded("jupiter_quote"):
        assert time.monotonic() < deadline, "the batch never asked for a quote"
        time.sleep(0.01)
    kill_switch_set(mode="halt", user=None, note="test")
    batch.join(timeout=30)

    # The first agent's quote was under way when the switch was thrown: its buy is refused
    # by its own statement, the others by theirs.
    assert _statuses(signal) == {agent.pk: "skipped" for agent in agents}
    reasons = SignalExecution.objects.filter(signal=signal).values_list("reason", "details")
    assert set((reason, details["kill_switch"]) for reason, details in reasons) == {
        ("kill_switch_halt", "halt")
    }
    assert not Position.objects.filter(signal=signal).exists()


def _in_thread(function):
    def run(**kwargs):
        try:
            function(**kwargs)
        finally:
            connection.close()

    return run


# --- On PostgreSQL: threads, and two Celery workers ------------------------------------------

RACERS = 6
RACE_AGENTS = 12
WORKER_AGENTS = 60
DUPLICATES = 3


@on_postgres
def test_racing_batches_of_the_same_agents_buy_each_once(localnet, user, token):
    signal, agents = _decided(user, token, RACE_AGENTS)
    ids = [agent.pk for agent in agents]
    # Each racer takes the agents in another order, so claims collide all along the batch.
    orders = [ids[n:] + ids[:n] for n in range(RACERS)]
    turn = iter(range(RACERS))
    lock = threading.Lock()

    def batch():
        with lock:
            order = orders[next(turn)]
        return signal_execute_batch(signal_id=signal.pk, agent_ids=order)

    with Racers(RACERS) as racers:
        outcomes = racers.run(batch)

    assert all(outcome.error is None for outcome in outcomes), outcomes
    decided = sorted(e.agent_id for outcome in outcomes for e in outcome.value)
    assert decided == sorted(ids)  # every agent decided by exactly one racer
    _assert_bought_once_each(signal, agents)


def _batch_tasks_run(names: list[str]) -> int | None:
    """How many batch tasks the workers have run, once none is still running; else None."""
    inspect = celery_app.control.inspect(destination=names, timeout=2)
    stats = inspect.stats() or {}
    active = inspect.active() or {}
    if len(active) < len(names) or any(active.values()):
        return None
    return sum(
        stats.get(name, {}).get("total", {}).get(signal_execute_batch_task.name, 0)
        for name in names
    )


@on_postgres
def test_duplicate_batch_tasks_on_two_workers_buy_each_agent_once(
    request, settings, localnet, user, token
):
    names, logs = request.getfixturevalue("workers")
    settings.TASK_MODE = "celery"  # .delay publishes to Redis; the workers execute
    agents = _agents(user, WORKER_AGENTS)
    ids = [agent.pk for agent in agents]
    signal = _signal(user, token, dispatch=True)  # its fan-out goes to a worker at commit
    batches = [
        ids[n : n + services.BUY_BATCH_SIZE] for n in range(0, len(ids), services.BUY_BATCH_SIZE)
    ]
    # Every batch delivered again and again while the fan-out runs, as redeliveries would be.
    for _ in range(DUPLICATES):
        for batch in batches:
            signal_execute_batch_task.delay(signal.pk, batch)

    expected_tasks = (DUPLICATES + 1) * len(batches) - 1  # the fan-out buys one itself
    deadline = time.monotonic() + 120
    while True:
        done = _statuses(signal) == dict.fromkeys(ids, "executed")
        if done and _batch_tasks_run(names) == expected_tasks:
            break
        if time.monotonic() > deadline:
            pytest.fail("the workers did not finish:\n" + "\n".join(map(_tail, logs.values())))
        time.sleep(0.2)
    for path in logs.values():
        text = path.read_text(errors="replace")
        assert "Traceback" not in text and "raised unexpected" not in text, _tail(path)
    _assert_bought_once_each(signal, agents)


def test_a_batchs_entries_record_the_sol_usd_of_the_moment(localnet, market, user, token):
    market.set_sol_usd(Decimal("123.45"))
    agents = _agents(user, 3)
    signal = _signal(user, token)
    signal_fan_out_task(signal.pk)
    _assert_bought_once_each(signal, agents)
    recorded = Transaction.objects.filter(signal=signal).values_list("sol_usd", flat=True)
    assert set(recorded) == {Decimal("123.45")}


@pytest.mark.parametrize(("age", "bought"), [(20, True), (31, False)])
def test_a_buy_is_made_only_within_the_signals_max_age(
    localnet, market, user, token, settings, age, bought
):
    settings.SIGNAL_BUY_MAX_AGE_SECONDS = 30
    signal, agents = _decided(user, token, 2)
    TradingSignal.objects.filter(pk=signal.pk).update(
        created_at=timezone.now() - timedelta(seconds=age)
    )

    signal_execute_batch(signal_id=signal.pk, agent_ids=[agent.pk for agent in agents])

    if bought:
        _assert_bought_once_each(signal, agents)
        return
    assert _statuses(signal) == {agent.pk: "skipped" for agent in agents}
    for reason, details in SignalExecution.objects.filter(signal=signal).values_list(
        "reason", "details"
    ):
        assert reason == "signal_expired"
        assert details["max_age_seconds"] == 30 and details["age_seconds"] >= 31
    assert not Position.objects.filter(signal=signal).exists()
    assert not market.recorded("jupiter_quote")  # not even a quote asked
