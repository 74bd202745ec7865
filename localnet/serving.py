"""localnet's HTTP side: the standard library's threading HTTP/1.1 server with kept-alive
connections, each request answered by `localnet.server.dispatch`, and LocalnetServer, which
runs it in the background."""

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from localnet.answers import Response, text_response
from localnet.market import SyntheticMarket
from localnet.server import dispatch
from localnet.stream import DropConnection

logger = logging.getLogger(__name__)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], market: SyntheticMarket):
        super().__init__(address, _Handler)
        self.market = market
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        # Registered here, in the accepting thread, so none is missed by close_connections().
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection: its (daemon) thread would otherwise go on serving a
        kept-alive one after stop()."""
        # Under the lock: no connection in the set is closed meanwhile, so no descriptor is
        # reused under our feet.
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    # Keep-alive, as the real services: a client's pooled connection serves many requests.
    protocol_version = "HTTP/1.1"
    server_version = "localnet/1"
    # An idle kept-alive connection is closed after this long, so its thread ends (nginx's
    # default); a client checks a pooled connection before reusing it.
    timeout = 75
    # An answer goes out in one write, headers and body together, when it is complete (the
    # response is buffered; a stream flushes each frame itself): one packet for the client to
    # read instead of two, on both sides' CPU.
    wbufsize = 64 * 1024
    # A stream's frames are small writes; Nagle's algorithm would hold each back until the
    # client's delayed ACK of the one before.
    disable_nagle_algorithm = True

    def log_request(self, code="-", size="-") -> None:
        # Formatted only when someone reads it: every answer passes here.
        if logger.isEnabledFor(logging.DEBUG):
            super().log_request(code, size)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(url.query, keep_blank_values=True)
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            response = dispatch(self.server.market, method, url.path, query, body, headers)
        except Exception:
            logger.exception("localnet failed to answer %s %s", method, self.path)
            response = text_response("Internal Server Error", 500)
        if response.stream is not None:
            self._stream(response)
            return
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        # Every answer, errors included, says where it ends: the connection stays open.
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        try:
            self.end_headers()
            self.wfile.write(response.body)
            self.wfile.flush()
        except OSError:
            # The client went away, e.g. gave up waiting on an injected delay.
            self.close_connection = True

    def _stream(self, response: Response) -> None:
        """Write the frames as a chunked body, each as soon as it comes (as Hermes' server does).
        The connection closes when the stream ends."""
        self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        frames = response.stream
        try:
            self.wfile.flush()
            for frame in frames:
                self.wfile.write(b"%X\r\n%s\r\n" % (len(frame), frame))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except DropConnection:
            # Returning without the terminating chunk: the client sees the body cut short,
            # as when a TCP connection drops.
            pass
        except OSError:
            pass  # the client went away
        finally:
            frames.close()

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


class LocalnetServer:
    """The fake services on one port, serving from a background thread.

    The socket is bound on construction, so `url` and `engine_settings()` are known before
    `start()`; port 0 picks a free port.
    """

    def __init__(
        self, market: SyntheticMarket | None = None, host: str = "127.0.0.1", port: int = 0
    ):
        self.market = market if market is not None else SyntheticMarket()
        self._httpd = _HttpServer((host, port), self.market)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalnetServer":
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"localnet {self.url}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        # Open streams would keep their threads writing after the server is gone.
        self.market.hermes_stream.drop()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> "LocalnetServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def notify_url(self, name: str) -> str:
        """An Apprise URL that posts to this server's notification sink `name`."""
        return f"json://{self.url.removeprefix('http://')}/notify-sink/{name}"

    def notifications(self, name: str) -> list:
        """The notifications sink `name` received, oldest first (each Apprise's JSON body)."""
        return self.market.notify_sink.received(name)

    def engine_settings(self) -> dict[str, str]:
        """The engine settings that point its clients here."""
        return {
            "JUPITER_BASE_URL": f"{self.url}/swap/v1",
            "JUPITER_PRICE_URL": f"{self.url}/price/v3",
            "JUPITER_ULTRA_URL": f"{self.url}/ultra/v1",
            "DEXSCREENER_BASE_URL": self.url,
            "HERMES_BASE_URL": self.url,
            "SOLANA_RPC_URL": self.url,
        }
