"""What a provider request puts on the wire: the request requests.Session.get would send (URL,
requests' default headers, the caller's), redirects followed, the CA bundle the environment
names, over a connection each thread keeps alive; and nothing at all while the provider asked
for a pause.

localnet does not record headers, so these tests read them from a small HTTP server of their
own that records every request and answers its path back as JSON."""

import datetime
import email.utils
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nexgent.http import ExternalServiceError
from prices import providers


class Received(NamedTuple):
    path: str  # with its query, as sent
    headers: list[tuple[str, str]]  # in the order sent


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the providers

    def do_GET(self) -> None:
        self.server.received.append(Received(self.path, list(self.headers.items())))
        self.server.client_ports.append(self.client_address[1])
        body = json.dumps({"path": self.path}).encode()
        if self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/answer")
        elif self.path.startswith("/busy"):
            self.send_response(429)
            later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=120)
            self.send_header("Retry-After", email.utils.format_datetime(later, usegmt=True))
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


class _Origin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, scheme: str = "http"):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scheme = scheme
        self.received: list[Received] = []
        self.client_ports: list[int] = []

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_port}"


def _serve(origin: _Origin):
    thread = threading.Thread(target=origin.serve_forever, daemon=True)
    thread.start()
    yield origin
    origin.shutdown()
    origin.server_close()
    thread.join(timeout=5)


@pytest.fixture
def origin(environment):
    yield from _serve(_Origin())


def _self_signed(directory) -> tuple[str, str]:
    """(certificate file, key file) of a self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provider.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "provider.pem", directory / "provider.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(certificate_file), str(key_file)


@pytest.fixture
def tls_origin(environment, tmp_path):
    certificate, key = _self_signed(tmp_path)
    origin = _Origin("https")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    origin.socket = context.wrap_socket(origin.socket, server_side=True)
    origin.certificate = certificate
    yield from _serve(origin)


def _fetch(url: str, *, params=None, headers=None, http=None) -> dict:
    return providers.get(
        providers.JUPITER_QUOTE,
        url,
        params=params,
        headers=headers,
        parse=lambda response: response.json(),
        http=http or providers.new_session(),
    )


REQUESTS = "nexgent_price_provider_requests_total"
QUOTE = {
    "inputMint": "So11111111111111111111111111111111111111112",
    "outputMint": "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr",
    "amount": "1000000000",
    "slippageBps": "100",
    "restrictIntermediateTokens": "true",
}


@pytest.mark.parametrize(
    ("path", "params", "headers"),
    [
        pytest.param("/quote", QUOTE, {}, id="quote"),
        pytest.param("/quote", QUOTE, {"x-api-key": "key-1"}, id="api-key"),
        pytest.param(
            "/v2/updates/price/stream",
            {"ids[]": "ef0d8b6f", "parsed": "true"},
            {
                "Authorization": "Bearer token",
                "Accept": "text/event-stream",
                "Accept-Encoding": "identity",
                "Cache-Control": "no-cache",
            },
            id="hermes-stream",
        ),
        pytest.param("/tokens/v1/solana/AbC,dEf", None, None, id="addresses-in-the-path-no-params"),
        pytest.param(
            "/tokens/v1/solana/a b|c%7E", {"x": "1 2"}, None, id="a-path-requests-requotes"
        ),
        pytest.param(
            "/quote?x=1",
            {"q": "a b&c=d/é+%", "ids[]": "0xab,0xcd"},
            {"user-agent": "nexgent"},
            id="reserved-characters-and-a-query-already",
        ),
        pytest.param(
            "/price",
            [("ids[]", "a"), ("ids[]", "b")],
            {"Accept-Encoding": None},
            id="repeated-params-and-a-default-header-removed",
        ),
        pytest.param("/price", {"amount": 5, "skip": None}, {}, id="non-string-params"),
    ],
)
def test_a_provider_request_is_the_one_requests_session_get_sends(origin, path, params, headers):
    requests.Session().get(f"{origin.url}{path}", params=params, headers=headers, timeout=5)
    _fetch(f"{origin.url}{path}", params=params, headers=headers)

    expected, sent = origin.received
    assert sent == expected


def test_requests_default_headers_go_with_the_callers(origin):
    _fetch(f"{origin.url}/quote", params=QUOTE, headers={"x-api-key": "key-1"})

    (received,) = origin.received
    headers = dict(received.headers)
    assert headers["User-Agent"] == requests.utils.default_user_agent()
    assert headers["Accept-Encoding"] == requests.utils.DEFAULT_ACCEPT_ENCODING
    assert headers["Accept"] == "*/*"
    assert headers["Connection"] == "keep-alive"
    assert headers["x-api-key"] == "key-1"


def test_a_redirect_is_followed(origin):
    answer = _fetch(f"{origin.url}/moved", params={"amount": "1"})

    assert answer == {"path": "/answer"}
    assert [received.path for received in origin.received] == ["/moved?amount=1", "/answer"]


def test_the_ca_bundle_the_environment_names_verifies_the_provider(tls_origin, environment):
    with pytest.raises(ExternalServiceError, match="request failed: SSLError"):
        _fetch(f"{tls_origin.url}/quote")

    environment.setenv("REQUESTS_CA_BUNDLE", tls_origin.certificate)

    assert _fetch(f"{tls_origin.url}/quote") == {"path": "/quote"}


def test_a_thread_keeps_its_session_and_its_connection(origin):
    for _ in range(2):
        providers.get(
            providers.JUPITER_QUOTE, f"{origin.url}/quote", parse=lambda response: response.json()
        )
    sessions = []
    thread = threading.Thread(target=lambda: sessions.append(providers.session()))
    thread.start()
    thread.join()

    first, second = origin.client_ports
    assert first == second  # one kept-alive connection
    assert sessions[0] is not providers.session()  # requests.Session is not thread-safe


def test_a_retry_after_date_becomes_a_cooldown_with_no_request(origin, counted):
    with pytest.raises(ExternalServiceError, match=r"HTTP 429 after 1 attempt"):
        _fetch(f"{origin.url}/busy")

    with pytest.raises(ExternalServiceError, match="cooling down"):
        _fetch(f"{origin.url}/quote")

    assert [received.path for received in origin.received] == ["/busy"]
    assert counted(REQUESTS, provider="jupiter_quote", outcome="throttled") == 1
    until = providers.status(providers.JUPITER_QUOTE).cooldown_until
    now = datetime.datetime.now(datetime.UTC)
    assert now + datetime.timedelta(seconds=100) < until <= now + datetime.timedelta(seconds=121)
