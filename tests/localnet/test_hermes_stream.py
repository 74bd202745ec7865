"""Pyth Hermes over HTTP: /v2/updates/price/stream (external-apis.md §3.2) and its knobs."""

import json
import time
from decimal import Decimal

import pytest
import requests

from localnet.serving import LocalnetServer
from tests.localnet.support import SOL_USD_FEED

STREAM = "/v2/updates/price/stream"


class Frames:
    """Reads a text/event-stream body frame by frame (a frame ends with a blank line)."""

    def __init__(self, response: requests.Response):
        self._chunks = response.iter_content(chunk_size=None)
        self._buffer = b""

    def next(self) -> bytes:
        while b"\n\n" not in self._buffer:
            self._buffer += next(self._chunks)
        frame, _, self._buffer = self._buffer.partition(b"\n\n")
        return frame

    def take(self, count: int) -> list[bytes]:
        return [self.next() for _ in range(count)]


@pytest.fixture
def stream(localnet):
    """Open the stream for SOL/USD; every response is closed after the test."""
    opened = []

    def _open(params=None) -> requests.Response:
        response = requests.get(
            f"{localnet.url}{STREAM}",
            params=params or {"ids[]": f"0x{SOL_USD_FEED}"},
            stream=True,
            timeout=5,
        )
        opened.append(response)
        return response

    yield _open
    for response in opened:
        response.close()


def _update(frame: bytes) -> dict:
    assert frame.startswith(b"data: "), frame
    return json.loads(frame.removeprefix(b"data: "))


def test_updates_are_data_events_of_price_updates(stream, market):
    market.set_sol_usd(Decimal("147.48"))
    market.hermes_stream.configure(interval=0.05, keepalive=15)
    before = int(time.time())

    response = stream()
    frames = Frames(response).take(2)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Transfer-Encoding"] == "chunked"
    for frame in frames:
        body = _update(frame)
        (parsed,) = body["parsed"]
        assert parsed["id"] == SOL_USD_FEED  # lowercase, without 0x
        assert parsed["price"]["price"] == "14748000000"
        assert parsed["price"]["expo"] == -8
        assert before <= parsed["price"]["publish_time"] <= int(time.time())
        assert bytes.fromhex(body["binary"]["data"][0]).startswith(b"PNAU")


def test_the_manual_clock_sends_only_published_updates(stream, market):
    market.hermes_stream.configure(interval=None, keepalive=0.05)
    frames = Frames(stream())

    assert frames.take(3) == [b":", b":", b":"]  # keep-alive comments, no update

    market.hermes_stream.publish(2)

    updates = [frame for frame in frames.take(4) if frame != b":"]
    assert len(updates) >= 2
    assert all(_update(frame)["parsed"] for frame in updates[:2])


def test_drop_cuts_the_connection_short(stream, market):
    market.hermes_stream.configure(interval=0.05, keepalive=15)
    frames = Frames(stream())
    frames.next()

    market.hermes_stream.drop()

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        frames.take(100)
    assert Frames(stream()).next().startswith(b"data: ")  # a new connection is served


def test_end_closes_the_stream_cleanly(stream, market):
    market.hermes_stream.configure(interval=None, keepalive=15)
    response = stream()

    market.hermes_stream.end()

    assert b"".join(response.iter_content(chunk_size=None)) == b""


def test_silence_after_n_updates_keeps_only_keepalives_until_resumed(stream, market):
    market.hermes_stream.configure(interval=0.02, keepalive=0.05)
    market.hermes_stream.silence(after=2)
    frames = Frames(stream())

    seen = frames.take(8)

    assert [frame.startswith(b"data: ") for frame in seen[:2]] == [True, True]
    assert set(seen[2:]) == {b":"}
    assert market.hermes_stream.state()["silent"] is True

    market.hermes_stream.resume()

    assert any(frame.startswith(b"data: ") for frame in frames.take(5))


def test_an_error_event_can_be_sent(stream, market):
    market.hermes_stream.configure(interval=None, keepalive=15)
    frames = Frames(stream())
    time.sleep(0.05)

    market.hermes_stream.error()

    assert frames.next() == b"event: error\ndata: Error receiving update: injected by localnet"


def test_unknown_ids_are_a_plain_text_404_before_the_stream(stream):
    btc = "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"

    response = stream({"ids[]": btc})

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == f"Price ids not found: {btc}"
    assert stream({"ids[]": SOL_USD_FEED, "allow_unordered": "maybe"}).status_code == 400


def test_injected_faults_apply_to_the_stream(stream, market):
    market.inject_fault("hermes", status=503)

    refused = stream()

    assert (refused.status_code, refused.text) == (503, "Service Unavailable")
    assert stream().status_code == 200


def test_control_routes_drive_the_stream(localnet, market, post):
    state = post("/_localnet/hermes/stream", {"interval": None, "keepalive": 0.5}).json()
    assert (state["interval"], state["keepalive"]) == (None, 0.5)
    assert post("/_localnet/hermes/silence", {"after": 3}).json()["updates_before_silence"] == 3
    assert post("/_localnet/hermes/resume", {}).json()["updates_before_silence"] is None
    for action in ("publish", "drop", "end", "error"):
        assert post(f"/_localnet/hermes/{action}", {}).status_code == 200
    assert post("/_localnet/hermes/stream", {"interval": -1}).status_code == 400
    assert post("/_localnet/hermes/stream", {"keepalive": None}).status_code == 400
    assert post("/_localnet/hermes/publish", {"count": 0}).status_code == 400
    state = requests.get(f"{localnet.url}/_localnet/state", timeout=5).json()
    assert state["hermes_stream"]["keepalive"] == 0.5


def test_stopping_the_server_ends_open_streams(market):
    market.hermes_stream.configure(interval=None, keepalive=60)
    server = LocalnetServer(market).start()
    response = requests.get(
        f"{server.url}{STREAM}", params={"ids[]": SOL_USD_FEED}, stream=True, timeout=5
    )
    started = time.monotonic()

    server.stop()

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        Frames(response).next()
    assert time.monotonic() - started < 2
    response.close()
