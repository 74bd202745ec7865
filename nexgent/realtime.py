"""Every live event the engine emits, as typed payloads, sent to an agent's group after commit.

Consumers only authenticate, join `agent_group(id)` and forward. Decimals travel as strings.
"""

import asyncio
import logging
import threading
from datetime import UTC, datetime
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
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


def _send_now(group: str, payload: Message) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "agent.event", "message": payload}
    loop = _server_loop
    if isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            asyncio.run_coroutine_threadsafe(layer.group_send(group, event), loop)
            return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        # A lost live update must never undo or fail a committed trade.
        logger.exception("could not send %s to %s", payload["type"], group)


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
