"""Every live event the engine emits, as typed payloads, sent to an agent's group after commit.

Consumers only authenticate, join `agent_group(id)` and forward. Decimals travel as strings.

An event goes out once the transaction that produced it commits, with the channel layer's own
`group_send`, run on the process's event loop: the loop that serves sockets in a process that
serves them (the in-memory layer's queues belong to it), else one loop this module starts on a
thread of its own the first time it sends. A caller waits until its events are handed over, so
a unit of work has sent what it committed when it returns. Why not `async_to_sync`: it starts
an event loop, and the channel layer opens a Redis connection for it, on every call, about 3 ms
of CPU, which was most of what a buy's events cost (docs/benchmarks.md).

Work that emits many events (a trade, a batch of buys, a price tick) runs inside `batched()`:
what it commits goes out at its end in one hand-over, with one channel message per agent
carrying that agent's events in commit order; the consumer sends each as its own frame.
"""

import asyncio
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal, TypedDict

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

EventType = Literal[
    "connected",
    "initial_data",
    "position_update",
    "price_update_batch",
    "balance_update",
    "signal_execution",
    "strategist_cycle",
    "ping",
    "pong",
    "error",
]
PositionEvent = Literal["position_created", "position_updated", "position_closed"]
# How long a caller waits for its events to be sent before giving up on them.
SEND_TIMEOUT_SECONDS = 5


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


def credential_group(kind: str, ident) -> str:
    """The group of every socket opened with one credential (an API key, a login session)."""
    return f"credential.{kind}.{ident}"


def message(event_type: EventType, data) -> Message:
    return {"type": event_type, "data": data, "timestamp": datetime.now(UTC).isoformat()}


_server_loop: asyncio.AbstractEventLoop | None = None
_own_loop: tuple[int, asyncio.AbstractEventLoop] | None = None  # (the pid it runs in, the loop)
_own_loop_lock = threading.Lock()
_outbox = threading.local()


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The loop this process serves sockets on (called by the consumer as a socket connects)."""
    global _server_loop
    _server_loop = loop


def _event_loop() -> asyncio.AbstractEventLoop:
    """The serving loop if this process has one running, else this module's own: started on
    first use, and again in a forked child, which inherits the loop but not its thread."""
    global _own_loop
    serving = _server_loop
    if serving is not None and serving.is_running():
        return serving
    with _own_loop_lock:
        if _own_loop is None or _own_loop[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="realtime-events", daemon=True).start()
            _own_loop = (os.getpid(), loop)
        return _own_loop[1]


@contextmanager
def batched() -> Iterator[None]:
    """Events committed inside the block go out together when it ends, in the order they were
    committed. Re-entrant: an inner block leaves them to the outer one."""
    if getattr(_outbox, "events", None) is not None:
        yield
        return
    _outbox.events = []
    try:
        yield
    finally:
        events, _outbox.events = _outbox.events, None
        _send(events)


def send_agent_event(agent_id: int, event_type: EventType, data) -> None:
    """Send after the current transaction commits (at once when there is none)."""
    event = (agent_group(agent_id), message(event_type, data))
    transaction.on_commit(lambda: _committed(event))


def _committed(event: tuple[str, Message]) -> None:
    waiting = getattr(_outbox, "events", None)
    if waiting is not None:
        waiting.append(event)
    else:
        _send([event])


def _send(events: list[tuple[str, Message]]) -> None:
    """Hand the events to the event loop and wait until they are sent. A lost live update must
    never undo or fail a committed trade: failures are logged."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    by_group: dict[str, list[Message]] = {}
    for group, payload in events:
        by_group.setdefault(group, []).append(payload)
    future = asyncio.run_coroutine_threadsafe(_group_sends(layer, by_group), _event_loop())
    try:
        future.result(timeout=SEND_TIMEOUT_SECONDS)
    except Exception:
        logger.exception("could not hand %s events to the event loop", len(events))


async def _group_sends(layer, by_group: dict[str, list[Message]]) -> None:
    for group, messages in by_group.items():
        try:
            await layer.group_send(group, {"type": "agent.events", "messages": messages})
        except Exception:
            kinds = ", ".join(dict.fromkeys(payload["type"] for payload in messages))
            logger.exception("could not send %s to %s", kinds, group)


def credential_revoked(group: str) -> None:
    """Close every socket of a credential group once the revocation commits."""
    transaction.on_commit(lambda: _send_revocation(group))


def _send_revocation(group: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    future = asyncio.run_coroutine_threadsafe(
        layer.group_send(group, {"type": "credential.revoked"}), _event_loop()
    )
    try:
        future.result(timeout=SEND_TIMEOUT_SECONDS)
    except Exception:
        # The credential is already refused on every new request; an open socket it opened
        # then lives until its next reconnect.
        logger.exception("could not close the sockets of %s", group)


def position_update(agent_id: int, event: PositionEvent, position: dict) -> None:
    send_agent_event(agent_id, "position_update", {"event": event, "position": position})


def balance_update(agent_id: int, balances: list[dict]) -> None:
    send_agent_event(agent_id, "balance_update", {"balances": balances})


def price_update_batch(agent_id: int, prices: list[PriceUpdate]) -> None:
    send_agent_event(agent_id, "price_update_batch", prices)


def signal_execution(agent_id: int, data: dict) -> None:
    send_agent_event(agent_id, "signal_execution", data)


class StrategistCycleEvent(TypedDict):
    cycle_id: int
    status: str
    reason: str
    decisions: int
    executed: int


def strategist_cycle(agent_id: int, data: StrategistCycleEvent) -> None:
    send_agent_event(agent_id, "strategist_cycle", data)
