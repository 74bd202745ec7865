"""A credential that is revoked closes the WebSockets it opened: an API key revoked, a login
session logged out, a dashboard cookie logged out."""

import json
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from agents.auth_services import auth_logout, auth_session_open
from agents.services import agent_create, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 10


@contextmanager
def _open(live_engine, agent, query="", headers=None):
    with connect(
        f"ws://{live_engine}/ws/agents/{agent.pk}/{query}",
        additional_headers={"Origin": f"http://{live_engine}", **(headers or {})},
    ) as socket:
        assert json.loads(socket.recv(timeout=TIMEOUT))["type"] == "connected"
        assert json.loads(socket.recv(timeout=TIMEOUT))["type"] == "initial_data"
        yield socket


def _closed_code(socket) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = json.loads(socket.recv(timeout=TIMEOUT))
            assert frame["type"] in ("ping", "price_update_batch")
    return closed.value.rcvd.code


@pytest.fixture
def agent(user):
    return agent_create(owner=user, name="Alpha")


def test_revoking_an_api_key_closes_its_open_socket(live_engine, user, agent):
    key, raw_key = api_key_create(owner=user, name="viewer", scopes=["agents"])
    _, other_raw = api_key_create(owner=user, name="other", scopes=["agents"])
    with (
        _open(live_engine, agent, f"?token={raw_key}") as socket,
        _open(live_engine, agent, f"?token={other_raw}") as bystander,
    ):
        api_key_revoke(key=key)

        assert _closed_code(socket) == 4401
        # Another key's socket stays open and still answers.
        bystander.send(json.dumps({"type": "ping"}))
        assert json.loads(bystander.recv(timeout=TIMEOUT))["type"] == "pong"


def test_logging_out_closes_the_sockets_of_that_login(live_engine, user, agent):
    tokens = auth_session_open(user)
    with _open(live_engine, agent, f"?token={tokens['access']}") as socket:
        auth_logout(user=user, raw_refresh=tokens["refresh"], access_session_id=None)

        assert _closed_code(socket) == 4401


def test_logging_out_of_the_dashboard_closes_its_cookie_socket(live_engine, user, agent):
    from django.test import Client

    browser = Client(HTTP_HOST="localhost")
    browser.force_login(user)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    with _open(live_engine, agent, headers={"Cookie": cookie}) as socket:
        assert browser.post("/logout/").status_code == 302

        assert _closed_code(socket) == 4401
