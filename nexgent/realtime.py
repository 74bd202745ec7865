"""Every live event the engine emits, as typed payloads, sent to an agent's group after commit.

Consumers only authenticate, join `agent_group(id)` and forward. Decimals travel as strings.

An event goes out once the transaction that produced it commits, with the channel layer's own
`group_send`. From a plain thread that means `async_to_sync`, which starts an event loop and
opens a Redis connection for every call: about 3 ms of CPU. Work that emits many events (a
batch of buys, a price tick) runs inside `batched()`, so what it commits goes out in one such
call at its end, a fraction of a millisecond per event. In a process that also serves sockets
(the embedded default, `manage.py serve`) events are handed to the serving loop instead: the
in-memory channel layer's queues belong to it.
"""

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
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
    "ping",
    "pong",
    "error",
]
PositionEvent = Literal["position_created", "position_updated", "position_closed"]
# How long a worker waits for the serving loop to take its events before giving up on them.
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


def message(event_type: EventType, data) -> Message:
    return {"type": event_type, "data": data, "timestamp": datetime.now(UTC).isoformat()}


_server_loop: asyncio.AbstractEventLoop | None = None
_outbox = threading.local()


def register_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """The loop this process serves sockets on (called by the consumer as a socket connects)."""
    global _server_loop
    _server_loop = loop


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
    """A lost live update must never undo or fail a committed trade: failures are logged."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    loop = _server_loop
    if loop is not None and loop.is_running():
        future = asyncio.run_coroutine_threadsafe(_group_sends(layer, events), loop)
        try:
            future.result(timeout=SEND_TIMEOUT_SECONDS)
        except Exception:
            logger.exception("could not hand %s events to the serving loop", len(events))
        return
    async_to_sync(_group_sends)(layer, events)


async def _group_sends(layer, events: list[tuple[str, Message]]) -> None:
    for group, payload in events:
        try:
            await layer.group_send(group, {"type": "agent.event", "message": payload})
        except Exception:
            logger.exception("could not send %s to %s", payload["type"], group)


def position_update(agent_id: int, event: PositionEvent, position: dict) -> None:
    send_agent_event(agent_id, "position_update", {"event": event, "position": position})


def balance_update(agent_id: int, balances: list[dict]) -> None:
    send_agent_event(agent_id, "balance_update", {"balances": balances})


def price_update_batch(agent_id: int, prices: list[PriceUpdate]) -> None:
    send_agent_event(agent_id, "price_update_batch", prices)


def signal_execution(agent_id: int, data: dict) -> None:
    send_agent_event(agent_id, "signal_execution", data)
