"""Live events from `nexgent.realtime` to agent sockets connected to a real ASGI server, over
the real channel layer (Redis on the PostgreSQL backend, in-memory on SQLite). A client sees
each event as its own frame, an agent's events in the order they were committed, and nothing of
a transaction that rolled back."""

import json
import logging
import time
from contextlib import ExitStack
from decimal import Decimal

import pytest
from django.db import transaction
from websockets.sync.client import connect

from agents.auth_services import auth_session_open
from agents.services import agent_create
from nexgent import realtime

pytestmark = pytest.mark.django_db(transaction=True)

# What one buy sends to its agent.
BUY_EVENTS = ("position_update", "balance_update", "signal_execution")
TIMEOUT = 10


@pytest.fixture
def other_agent(user):
    return agent_create(owner=user, name="Beta")


@pytest.fixture
def socket_for(live_engine, user):
    """Opens an agent's socket and reads past `connected` and `initial_data`: from then on the
    consumer is in the agent's group and every frame is a live event."""
    access = auth_session_open(user)["access"]
    with ExitStack() as sockets:

        def socket_for(agent):
            socket = sockets.enter_context(
                connect(
                    f"ws://{live_engine}/ws/agents/{agent.pk}/?token={access}",
                    additional_headers={"Origin": f"http://{live_engine}"},
                )
            )
            assert json.loads(socket.recv(timeout=TIMEOUT))["type"] == "connected"
            assert json.loads(socket.recv(timeout=TIMEOUT))["type"] == "initial_data"
            return socket

        yield socket_for


@pytest.fixture
def group_sends(monkeypatch):
    """Every group_send of the Redis layer, recorded on its way through (observed, not faked)."""
    from channels_redis.core import RedisChannelLayer

    calls = []
    original = RedisChannelLayer.group_send

    async def recorded(self, group, message):
        calls.append((group, message["type"]))
        return await original(self, group, message)

    monkeypatch.setattr(RedisChannelLayer, "group_send", recorded)
    return calls


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def realtime_errors():
    # The project's loggers do not propagate to the root logger that caplog listens on.
    handler = _Records()
    logger = logging.getLogger(realtime.__name__)
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def _buy_events(agent, count):
    return [(agent.pk, BUY_EVENTS[i % 3], {"agent": agent.pk, "seq": i}) for i in range(count)]


def _send(events):
    for agent_id, event_type, data in events:
        realtime.send_agent_event(agent_id, event_type, data)


def _frames(socket, count):
    frames = [json.loads(socket.recv(timeout=TIMEOUT)) for _ in range(count)]
    with pytest.raises(TimeoutError):
        socket.recv(timeout=0.3)  # and nothing more: no event twice
    return frames


def _as_sent(frames):
    assert all(set(frame) == {"type", "data", "timestamp"} for frame in frames)
    return [(frame["type"], frame["data"]) for frame in frames]


def _expected(events):
    return [(event_type, data) for _, event_type, data in events]


def test_an_agents_events_arrive_as_separate_frames_in_order(socket_for, agent):
    socket = socket_for(agent)
    events = _buy_events(agent, 30)

    _send(events)

    assert _as_sent(_frames(socket, len(events))) == _expected(events)


def test_interleaved_agents_each_get_their_own_events_in_order(socket_for, agent, other_agent):
    mine_socket, their_socket = socket_for(agent), socket_for(other_agent)
    mine, theirs = _buy_events(agent, 12), _buy_events(other_agent, 12)

    _send([event for pair in zip(mine, theirs, strict=True) for event in pair])

    assert _as_sent(_frames(mine_socket, len(mine))) == _expected(mine)
    assert _as_sent(_frames(their_socket, len(theirs))) == _expected(theirs)


def test_events_of_a_batch_go_out_when_it_ends_in_commit_order(socket_for, agent, other_agent):
    mine_socket, their_socket = socket_for(agent), socket_for(other_agent)
    mine, theirs = _buy_events(agent, 4), _buy_events(other_agent, 4)

    with realtime.batched():
        _send([event for pair in zip(mine, theirs, strict=True) for event in pair])
        with pytest.raises(TimeoutError):
            mine_socket.recv(timeout=0.3)  # nothing before the batch ends

    assert _as_sent(_frames(mine_socket, len(mine))) == _expected(mine)
    assert _as_sent(_frames(their_socket, len(theirs))) == _expected(theirs)


def test_a_rolled_back_transactions_events_are_never_sent(socket_for, agent):
    socket = socket_for(agent)
    kept = _buy_events(agent, 2)

    with realtime.batched():
        with pytest.raises(RuntimeError), transaction.atomic():
            realtime.signal_execution(agent.pk, {"rolled": "back"})
            raise RuntimeError("the trade failed")
        _send(kept)

    assert _as_sent(_frames(socket, len(kept))) == _expected(kept)


@pytest.mark.postgres
def test_a_batch_is_one_group_send_per_agent(socket_for, agent, other_agent, group_sends):
    mine_socket, their_socket = socket_for(agent), socket_for(other_agent)
    mine, theirs = _buy_events(agent, 5), _buy_events(other_agent, 3)

    with realtime.batched():
        _send(mine + theirs)

    assert _as_sent(_frames(mine_socket, len(mine))) == _expected(mine)
    assert _as_sent(_frames(their_socket, len(theirs))) == _expected(theirs)
    assert sorted(group_sends) == sorted(
        (realtime.agent_group(a.pk), "agent.events") for a in (agent, other_agent)
    )


@pytest.mark.postgres
def test_a_failed_send_is_logged_and_later_events_still_arrive(socket_for, agent, realtime_errors):
    socket = socket_for(agent)
    later = _buy_events(agent, 3)

    # The Redis layer cannot serialize a Decimal, so this send fails inside group_send.
    realtime.signal_execution(agent.pk, {"amount": Decimal("1")})
    deadline = time.monotonic() + TIMEOUT
    while not realtime_errors:
        assert time.monotonic() < deadline, "the failed send was not logged"
        time.sleep(0.01)
    _send(later)

    assert _as_sent(_frames(socket, len(later))) == _expected(later)
    assert realtime_errors == [f"could not send signal_execution to agent.{agent.pk}"]


def test_a_strategist_cycle_is_announced_on_its_agent_socket(socket_for, user, localnet):
    from datetime import UTC, datetime

    from signals_app.strategist_services import llm_credential_set, strategist_cycle_run

    llm_credential_set(
        owner=user, base_url=f"{localnet.url}/v1", model="localnet-strategist", api_key="k"
    )
    agent = agent_create(owner=user, name="Mind", config={"signals": {"decision_source": "ai"}})
    socket = socket_for(agent)

    cycle = strategist_cycle_run(agent_id=agent.pk, slot=datetime(2026, 1, 1, tzinfo=UTC))

    frame = json.loads(socket.recv(timeout=TIMEOUT))
    assert frame["type"] == "strategist_cycle"
    assert frame["data"] == {
        "cycle_id": cycle.pk,
        "status": "done",
        "reason": "",
        "decisions": 0,
        "executed": 0,
    }


def test_an_agent_that_skips_a_signal_is_told_live(socket_for, user, agent, market):
    from signals_app.services import signal_create, signal_fan_out

    token = market.add_token(symbol="SKIP", price_sol=Decimal("0.001"))
    socket = socket_for(agent)  # the agent holds no SOL: it cannot buy
    signal, _ = signal_create(
        owner=user, token_address=token, signal_type="BUY", signal_strength=3, symbol="SKIP"
    )

    signal_fan_out(signal_id=signal.pk)

    frame = json.loads(socket.recv(timeout=TIMEOUT))
    assert frame["type"] == "signal_execution"
    assert (frame["data"]["signal_id"], frame["data"]["status"], frame["data"]["reason"]) == (
        signal.pk,
        "skipped",
        "insufficient_balance",
    )
