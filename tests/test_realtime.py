"""Live events from `nexgent.realtime` to agent sockets connected to a real ASGI server, over
the real channel layer (Redis on the PostgreSQL backend, in-memory on SQLite). Whatever the
sender does on the way, a client sees each event as its own frame, and an agent's events in
the order they were sent."""

import json
import logging
import threading
import time
from contextlib import ExitStack, contextmanager
from decimal import Decimal

import pytest
from rest_framework_simplejwt.tokens import AccessToken
from websockets.sync.client import connect

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
    access = str(AccessToken.for_user(user))
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


@contextmanager
def _sender_paused():
    """Keeps the sender's loop busy, so everything submitted meanwhile is waiting when it wakes."""
    loop = realtime._sender._running()
    paused, resume = threading.Event(), threading.Event()

    def pause():
        paused.set()
        resume.wait(TIMEOUT)

    loop.call_soon_threadsafe(pause)
    assert paused.wait(TIMEOUT)
    try:
        yield
    finally:
        resume.set()


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


@pytest.mark.postgres
def test_waiting_events_go_out_as_one_group_send_per_agent(
    socket_for, agent, other_agent, group_sends
):
    mine_socket, their_socket = socket_for(agent), socket_for(other_agent)
    mine, theirs = _buy_events(agent, 3), _buy_events(other_agent, 2)

    with _sender_paused():
        _send([mine[0], theirs[0], mine[1], theirs[1], mine[2]])

    assert _as_sent(_frames(mine_socket, len(mine))) == _expected(mine)
    assert _as_sent(_frames(their_socket, len(theirs))) == _expected(theirs)
    assert group_sends == [
        (realtime.agent_group(agent.pk), "agent.events"),
        (realtime.agent_group(other_agent.pk), "agent.events"),
    ]


@pytest.mark.postgres
def test_events_of_an_agent_no_socket_listens_to_are_not_sent(
    socket_for, agent, other_agent, group_sends
):
    socket = socket_for(agent)
    mine, unwatched = _buy_events(agent, 3), _buy_events(other_agent, 3)

    with _sender_paused():
        _send([unwatched[0], mine[0], unwatched[1], mine[1], unwatched[2], mine[2]])

    assert _as_sent(_frames(socket, len(mine))) == _expected(mine)
    assert group_sends == [(realtime.agent_group(agent.pk), "agent.events")]


@pytest.mark.postgres
def test_a_socket_that_left_gets_no_more_sends(socket_for, agent, other_agent, group_sends):
    watched = socket_for(agent)
    leaving = socket_for(other_agent)
    leaving.close()
    # The consumer leaves the group once it sees the close; a watched agent's event arriving
    # afterwards shows the sender has moved on past the close.
    deadline = time.monotonic() + TIMEOUT
    while True:
        group_sends.clear()
        _send(_buy_events(other_agent, 1) + _buy_events(agent, 1))
        assert json.loads(watched.recv(timeout=TIMEOUT))["data"]["agent"] == agent.pk
        if group_sends == [(realtime.agent_group(agent.pk), "agent.event")]:
            break
        assert time.monotonic() < deadline, "the closed socket's group still gets sends"
        time.sleep(0.05)


@pytest.mark.postgres
def test_a_backlog_goes_out_in_messages_of_bounded_size(socket_for, agent, group_sends):
    socket = socket_for(agent)
    events = _buy_events(agent, realtime.COALESCE_LIMIT + 5)

    with _sender_paused():
        _send(events)

    assert _as_sent(_frames(socket, len(events))) == _expected(events)
    assert group_sends == [(realtime.agent_group(agent.pk), "agent.events")] * 2


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
