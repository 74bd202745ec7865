"""The walking skeleton, end to end through real parts: a real ASGI server (uvicorn) serving
HTTP and WebSocket, the embedded task pool and beat as `make run` starts them, and localnet
behind the real market clients. A signal posted over HTTP buys; a price drop on the market
makes the beat's tick sell at the stop; the agent's WebSocket sees both live."""

import json
import time
from decimal import Decimal

import pytest
import requests
from websockets.sync.client import connect

from agents.auth_services import auth_session_open
from nexgent import money
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, Position

pytestmark = pytest.mark.django_db(transaction=True)


def _next_event(ws, wanted_type, *, event=None, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {wanted_type} {event or ''} within {timeout}s"
        message = json.loads(ws.recv(timeout=remaining))
        if message["type"] == wanted_type and (
            event is None or message["data"].get("event") == event
        ):
            return message


def test_signal_to_stop_loss_close_streams_live(live_engine, market, user, agent, wallet, api_key):
    token = market.add_token(
        symbol="SKEL", price_sol=Decimal("0.002"), decimals=6, liquidity_sol=Decimal("3000")
    )
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    access = auth_session_open(user)["access"]
    origin = f"http://{live_engine}"
    with connect(
        f"ws://{live_engine}/ws/agents/{agent.pk}/?token={access}",
        additional_headers={"Origin": origin},
    ) as ws:
        assert _next_event(ws, "connected")["data"] == {"agent_id": agent.pk}
        assert _next_event(ws, "initial_data")["data"]["positions"] == []

        response = requests.post(
            f"http://{live_engine}/api/v1/trading-signals",
            json={
                "token_address": token,
                "signal_type": "BUY",
                "signal_strength": 4,
                "symbol": "SKEL",
            },
            headers={"X-API-Key": api_key},
            timeout=10,
        )
        assert response.status_code == 201, response.text

        created = _next_event(ws, "position_update", event="position_created")["data"]["position"]
        assert created["token_address"] == token and created["status"] == "open"
        purchase_price = Decimal(created["purchase_price"])
        assert Decimal(created["stop_price"]) == money.price(
            purchase_price * (1 + Decimal(-32) / 100)
        )

        market.set_price(token, purchase_price * Decimal("0.5"))
        closed = _next_event(ws, "position_update", event="position_closed")["data"]["position"]
        assert closed["id"] == created["id"]
        assert closed["close_reason"] == "stop_loss"
        assert Decimal(closed["closed_trade"]["profit_loss_sol"]) < 0

    trade = ClosedTrade.objects.get(position_id=created["id"])
    assert trade.close_reason == "stop_loss"
    assert Position.objects.get(pk=created["id"]).status == "closed"


def test_websocket_refuses_someone_elses_agent(live_engine, other_user, agent):
    access = auth_session_open(other_user)["access"]
    with (
        connect(
            f"ws://{live_engine}/ws/agents/{agent.pk}/?token={access}",
            additional_headers={"Origin": f"http://{live_engine}"},
        ) as ws,
        pytest.raises(Exception) as closed,
    ):
        ws.recv(timeout=5)
    assert getattr(closed.value, "rcvd", None) is not None and closed.value.rcvd.code == 4403


def test_websocket_refuses_a_bad_token(live_engine, agent):
    with (
        connect(
            f"ws://{live_engine}/ws/agents/{agent.pk}/?token=garbage",
            additional_headers={"Origin": f"http://{live_engine}"},
        ) as ws,
        pytest.raises(Exception) as closed,
    ):
        ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401
