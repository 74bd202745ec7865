"""How localnet reads a request's head (localnet.serving reads it itself, not through the
standard library's parser): headers by name whatever their case, the connection kept or
closed as HTTP/1.x says, and a malformed or oversized head refused with the standard status."""

import json
import socket

import pytest

from tests.localnet.support import WSOL

QUOTE = f"/swap/v1/quote?inputMint={WSOL}&outputMint={{token}}&amount=1000000000"


@pytest.fixture
def raw(localnet):
    """A plain socket to localnet, to send heads no HTTP client library would."""
    host, port = localnet.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    yield sock
    sock.close()


def _send(sock, head: str, body: bytes = b"") -> None:
    sock.sendall(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n\r\n" + body)


def _answer(sock) -> tuple[int, dict, bytes]:
    """One answer: (status, headers by lowercase name, body read to its Content-Length)."""
    reader = sock.makefile("rb")
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", 0)))
    return status, headers, body


def _closed(sock) -> bool:
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def test_a_kept_alive_connection_answers_request_after_request(raw, token):
    for _ in range(3):
        _send(raw, f"GET {QUOTE.format(token=token)} HTTP/1.1\nHost: localnet")
        status, _, body = _answer(raw)
        assert status == 200 and int(json.loads(body)["outAmount"]) > 0
    raw.settimeout(0.3)
    assert not _closed(raw)


@pytest.mark.parametrize("name", ["Content-Length", "content-length", "CONTENT-LENGTH"])
def test_a_header_is_read_whatever_its_case(raw, name):
    payload = json.dumps({"symbol": "HEAD", "price_sol": "0.5"}).encode()
    _send(
        raw,
        f"POST /_localnet/token HTTP/1.1\nHost: localnet\n{name}: {len(payload)}",
        payload,
    )

    status, _, body = _answer(raw)

    # The body was read by its length: the token it describes was added.
    assert status == 201 and json.loads(body)["symbol"] == "HEAD"


def test_connection_close_closes_after_the_answer(raw, token):
    _send(raw, f"GET {QUOTE.format(token=token)} HTTP/1.1\nHost: localnet\nConnection: close")

    status, _, _ = _answer(raw)

    assert status == 200
    assert _closed(raw)


def test_http_1_0_closes_unless_asked_to_keep_alive(localnet, token):
    host, port = localnet.url.removeprefix("http://").split(":")
    for keep_alive, closes in ((False, True), (True, False)):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            extra = "\nConnection: keep-alive" if keep_alive else ""
            _send(sock, f"GET {QUOTE.format(token=token)} HTTP/1.0{extra}")
            assert _answer(sock)[0] == 200
            sock.settimeout(0.3)
            assert _closed(sock) is closes


@pytest.mark.parametrize(
    ("head", "status"),
    [
        ("GET /price/v3?ids=x HTTP/1.1\nHost localnet", 400),  # no colon
        ("GET /price/v3?ids=x HTTP/1.1\nHost: localnet\n folded: value", 400),
        ("GET /price/v3?ids=x HTTP/1.1\nHost : localnet", 400),  # space before the colon
        ("GET /price/v3?ids=x HTTP/1.1\n" + "\n".join(f"X-{n}: v" for n in range(101)), 431),
        ("GET /price/v3?ids=x HTTP/1.1\nX-Long: " + "v" * 70_000, 431),
    ],
    ids=["no-colon", "folded", "space-before-colon", "101-headers", "long-line"],
)
def test_a_bad_head_is_refused_and_the_connection_closed(raw, head, status):
    _send(raw, head)

    assert _answer(raw)[0] == status
    assert _closed(raw)
