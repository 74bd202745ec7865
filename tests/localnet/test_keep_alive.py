"""Connections are kept alive, as the real services keep them (HTTP/1.1): every answer says
where it ends, a client's connection serves request after request, and stop() cuts them."""

import http.client
import json
import threading
import time

import pytest
import requests

from localnet.serving import LocalnetServer
from tests.localnet.support import SOL_USD_FEED, WSOL

QUOTE = f"/swap/v1/quote?inputMint={WSOL}&outputMint={{token}}&amount=1000000000"


@pytest.fixture
def connection(localnet):
    port = int(localnet.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    yield connection
    connection.close()


def _exchange(connection, method: str, path: str, body: dict | None = None):
    """One request on `connection`; (status, headers, body), the body read to its end."""
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    content = response.read()
    assert response.version == 11
    assert int(response.headers["Content-Length"]) == len(content)
    return response.status, response.headers, content


def test_one_connection_serves_answers_and_errors_of_every_kind(connection, market, token):
    quote = QUOTE.format(token=token)
    market.inject_fault("jupiter_quote", status=429)
    market.inject_fault("jupiter_price", status=500)
    market.inject_malformed("dexscreener")
    market.inject_delay("hermes", 0.1)

    status, _, _ = _exchange(connection, "GET", "/_localnet/state")
    sock = connection.sock
    answers = [
        _exchange(connection, "GET", quote),  # the injected 429
        _exchange(connection, "GET", quote),
        _exchange(connection, "GET", quote.replace("1000000000", "1.5")),
        _exchange(connection, "GET", f"/price/v3?ids={token}"),  # the injected 500
        _exchange(connection, "GET", f"/tokens/v1/solana/{token}"),  # malformed
        _exchange(connection, "GET", f"/v2/updates/price/latest?ids[]={SOL_USD_FEED}"),  # delayed
        _exchange(connection, "GET", "/v2/updates/price/latest?ids[]=00"),
        _exchange(connection, "GET", "/nowhere"),
        _exchange(connection, "POST", "/swap/v1/quote", {}),
        _exchange(connection, "POST", "/_localnet/sol_usd", {"price": "151.5"}),
        _exchange(connection, "POST", "/_localnet/sol_usd", {}),
    ]

    statuses = [answer[0] for answer in answers]
    assert statuses == [429, 200, 400, 500, 200, 200, 400, 404, 405, 200, 400]
    assert connection.sock is sock  # never closed: every request went over the first connection
    assert answers[0][1]["x-ratelimit-remaining"] == "0"
    assert json.loads(answers[1][2])["inputMint"] == WSOL
    assert answers[4][2] == b'{"truncated": '
    assert json.loads(answers[9][2]) == {"sol_usd": "151.5"}
    assert json.loads(answers[10][2]) == {"error": "price is required"}
    assert status == 200


def test_clients_are_answered_while_another_one_stalls(localnet, market, token):
    market.inject_delay("jupiter_quote", 1.0)
    stalled = {}
    thread = threading.Thread(
        target=lambda: stalled.update(
            response=requests.get(f"{localnet.url}{QUOTE.format(token=token)}", timeout=5)
        )
    )
    thread.start()
    time.sleep(0.1)  # the stalled request is in

    started = time.monotonic()
    with requests.Session() as session:
        answered = [session.get(f"{localnet.url}/_localnet/state", timeout=5) for _ in range(3)]
    waited = time.monotonic() - started
    thread.join(timeout=5)

    assert [response.status_code for response in answered] == [200] * 3
    assert waited < 0.5
    assert stalled["response"].status_code == 200


def test_an_answer_given_up_on_never_answers_the_next_request(localnet, market, token):
    market.inject_delay("jupiter_quote", 0.5)
    quote = f"{localnet.url}{QUOTE.format(token=token)}"

    with requests.Session() as session:
        with pytest.raises(requests.Timeout):
            session.get(quote, timeout=0.1)
        state = session.get(f"{localnet.url}/_localnet/state", timeout=5)
        time.sleep(0.5)  # the late quote is written to the abandoned connection meanwhile
        again = session.get(quote, timeout=5)

    assert "tokens" in state.json()
    assert again.json()["outputMint"] == token


def test_a_dropped_or_ended_stream_closes_only_its_own_connection(localnet, market):
    market.hermes_stream.configure(interval=None, keepalive=0.05)
    stream = f"{localnet.url}/v2/updates/price/stream"

    with requests.Session() as session:
        dropped = session.get(stream, params={"ids[]": SOL_USD_FEED}, stream=True, timeout=5)
        dropped_frames = dropped.iter_content(chunk_size=None)
        assert next(dropped_frames) == b":\n\n"  # open: a keep-alive comment came
        market.hermes_stream.drop()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            list(dropped_frames)

        ended = session.get(stream, params={"ids[]": SOL_USD_FEED}, stream=True, timeout=5)
        ended_frames = ended.iter_content(chunk_size=None)
        assert next(ended_frames) == b":\n\n"
        market.hermes_stream.end()
        list(ended_frames)  # to the terminating chunk, without an error

        after = session.get(f"{localnet.url}/_localnet/state", timeout=5)

    assert dropped.headers["Connection"] == ended.headers["Connection"] == "close"
    assert after.json()["hermes_stream"]["connections"] == 2


def test_stop_cuts_kept_alive_connections():
    server = LocalnetServer().start()
    session = requests.Session()
    assert session.get(f"{server.url}/_localnet/state", timeout=5).ok  # a connection is pooled

    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=5)

    assert not stopping.is_alive()
    with pytest.raises(requests.ConnectionError):
        session.get(f"{server.url}/_localnet/state", timeout=1)
    session.close()
