"""Every live event the engine emits, as typed payloads, sent to an agent's group after commit.

Consumers only authenticate, join `agent_group(id)` and forward. Decimals travel as strings.
"""

import asyncio
import collections
import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import (
    DEFAULT_CHANNEL_LAYER,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)
from django.db import transaction

logger = logging.getLogger(__name__)

EventType = Literal[
    "connected",
    "initial_data",
    "position_update",
    "price_update_batch",
    "balance_update",
    "signal_execution",
    "ping",
    "pong",
    "error",
]
PositionEvent = Literal["position_created", "position_updated", "position_closed"]


class Message(TypedDict):
    type: EventType
    data: object
    timestamp: str


class PriceUpdate(TypedDict):
    token_address: str
    price_sol: str
    price_usd: str | None


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def message(event_type: EventType, data) -> Message:
    return {"type": event_type, "data": data, "timestamp": datetime.now(UTC).isoformat()}


# The in-memory layer's queues belong to the serving event loop; a worker thread must hand its
# sends to that loop instead of running them on a private loop of its own.
_server_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop
    with _loop_lock:
        _server_loop = loop


# A buy sends three events to its agent within a millisecond, and a signal fans out to
# thousands of agents. Each send to Redis costs round trips and a turn of the sender's loop, so
# the sender waits GATHER_SECONDS after the first event for others to join it, then sends what
# has gathered: one message per agent someone listens to. At 500 buys a second that is one
# turn for every five buys instead of one per event. The limit bounds one message and one turn.
GATHER_SECONDS = 0.01
COALESCE_LIMIT = 256


def _coalesce(waiting: list[tuple[str, Message]]) -> dict[str, list[Message]]:
    """The waiting events by group, groups in order of first appearance, each group's in order."""
    by_group: dict[str, list[Message]] = {}
    for group, payload in waiting:
        by_group.setdefault(group, []).append(payload)
    return by_group


async def _listened(layer, groups: list[str]) -> set[str]:
    """The groups that have a live member, asked in one pipelined round trip per Redis shard.

    A group_send costs two Redis round trips even when no browser watches the agent, which is
    the usual case for most agents of a large fan-out. The count reads the same sorted set, key
    and expiry as channels-redis's group_send. A socket that joins just after the count misses
    nothing: it joins before it reads its initial data, which already holds what was committed.
    """
    by_shard: dict[int, list[str]] = {}
    for group in groups:
        by_shard.setdefault(layer.consistent_hash(group), []).append(group)
    # group_send drops members whose score is at or below this; the rest are live.
    expired = int(time.time()) - layer.group_expiry
    listened = set()
    for shard, shard_groups in by_shard.items():
        pipe = layer.connection(shard).pipeline(transaction=False)
        for group in shard_groups:
            pipe.zcount(layer._group_key(group), f"({expired}", "+inf")
        counts = await pipe.execute()
        listened.update(group for group, count in zip(shard_groups, counts, strict=True) if count)
    return listened


def _layer_message(payloads: list[Message]) -> dict:
    """One event as `agent.event`; several as `agent.events`, which the consumer forwards one
    frame at a time, in order, so the browser sees exactly what separate sends would give."""
    if len(payloads) == 1:
        return {"type": "agent.event", "message": payloads[0]}
    return {"type": "agent.events", "messages": payloads}


class _Sender:
    """One long-lived event loop per process that sends events in order.

    A fresh loop per send (async_to_sync) would make channels-redis open a new Redis
    connection for every event, since it pools connections per loop. Events wait in a deque
    and go out in the order they were submitted, so an agent's events keep their order. The
    loop is woken once per gathering, not once per event (see GATHER_SECONDS); what has
    gathered goes out as one layer message per agent (see `_coalesce`), and only to agents a
    socket listens to (see `_listened`). Started lazily, and again after a fork (Celery
    prefork children inherit no running thread).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._waiting: collections.deque[tuple[str, Message]] = collections.deque()
        # Set by the first submit after a gathering began; read and written under the GIL, so
        # the worst a race can do is wake the loop once more than needed, never lose an event.
        self._woken = False

    def submit(self, group: str, payload: Message) -> None:
        loop = self._running()
        self._waiting.append((group, payload))
        if not self._woken:
            self._woken = True
            loop.call_soon_threadsafe(self._wake.set)

    def _running(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._pid != os.getpid():
                self._waiting.clear()  # a forked child's copy of its parent's backlog
                self._woken = False
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._serve, args=(ready,), name="nexgent-events", daemon=True
                )
                thread.start()
                ready.wait()
                self._pid = os.getpid()
            return self._loop

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._wake = asyncio.Event()
        ready.set()
        self._loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        # A layer instance of its own: channels-redis closes a layer's pools when any loop that
        # used it closes, which must not reach into this loop's connections.
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        while True:
            await self._wake.wait()
            await asyncio.sleep(GATHER_SECONDS)
            # Cleared before taking: an event submitted from here on wakes the loop again.
            self._wake.clear()
            self._woken = False
            while self._waiting:
                await self._send(layer, _coalesce(self._take()))

    def _take(self) -> list[tuple[str, Message]]:
        taken = []
        while self._waiting and len(taken) < COALESCE_LIMIT:
            taken.append(self._waiting.popleft())
        return taken

    @staticmethod
    async def _send(layer, by_group: dict[str, list[Message]]) -> None:
        # A lost live update must never undo or fail a committed trade: errors are logged.
        try:
            listened = await _listened(layer, list(by_group))
        except Exception:
            logger.exception("could not look up who listens to %s", ", ".join(by_group))
            return
        for group, payloads in by_group.items():
            if group not in listened:
                continue
            try:
                await layer.group_send(group, _layer_message(payloads))
            except Exception:
                logger.exception(
                    "could not send %s to %s", ", ".join(p["type"] for p in payloads), group
                )


_sender = _Sender()


def _send_now(group: str, payload: Message) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        # The in-memory layer's queues belong to the serving event loop. A send there is a
        # put on an in-process queue, so these are not coalesced.
        event = _layer_message([payload])
        loop = _server_loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(layer.group_send(group, event), loop)
            return
        async_to_sync(layer.group_send)(group, event)
        return
    _sender.submit(group, payload)


def send_agent_event(agent_id: int, event_type: EventType, data) -> None:
    """Send after the current transaction commits (at once when there is none)."""
    payload = message(event_type, data)
    transaction.on_commit(lambda: _send_now(agent_group(agent_id), payload))


def position_update(agent_id: int, event: PositionEvent, position: dict) -> None:
    send_agent_event(agent_id, "position_update", {"event": event, "position": position})


def balance_update(agent_id: int, balances: list[dict]) -> None:
    send_agent_event(agent_id, "balance_update", {"balances": balances})


def price_update_batch(agent_id: int, prices: list[PriceUpdate]) -> None:
    send_agent_event(agent_id, "price_update_batch", prices)


def signal_execution(agent_id: int, data: dict) -> None:
    send_agent_event(agent_id, "signal_execution", data)
