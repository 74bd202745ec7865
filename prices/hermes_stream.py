"""The Pyth Hermes SSE consumer: keeps the cached SOL/USD fresh between ticks.

GET /v2/updates/price/stream answers text/event-stream: each default event's data is one
PriceUpdate (the REST answer's shape), comment lines starting with ":" are keep-alives, errors
come as `event: error`, and the server closes the connection after 24 h (external-apis.md §3.2).

The consumer
- reconnects after a drop, a close or a refused connection, with exponential backoff and jitter;
- treats PRICE_STALE_SECONDS without a fresh price as a dead stream and reconnects (keep-alives
  only prove that the connection is open, not that prices flow);
- while the stream is down, keeps SOL/USD fresh over REST every SOL_USD_REFRESH_SECONDS.
"""

import contextlib
import json
import logging
import random
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import requests
from django.conf import settings

from nexgent import metrics
from nexgent.http import ExternalServiceError
from prices import clients, providers, selectors, services

logger = logging.getLogger(__name__)

_EOL = re.compile(rb"\r\n|\r|\n")
# Hermes events carry one signed update per requested feed: a few kilobytes at most.
MAX_LINE_BYTES = 1 << 20
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
# How often the consumer's state (for data-sources/status) and the stale check are refreshed.
REPORT_SECONDS = 1.0
_UNREADABLE = (ExternalServiceError, ValueError, KeyError, TypeError, ArithmeticError)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # the event type ("message" by default, "error"), or "comment" for a ":" line
    data: str


class SseParser:
    """An incremental text/event-stream parser: the part of the WHATWG rules Hermes uses."""

    def __init__(self):
        self._buffer = b""
        self._data: list[str] = []
        self._kind = ""

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events = []
        while True:
            match = _EOL.search(self._buffer)
            # A trailing \r may be the first half of a \r\n split across chunks.
            if match is None or (match.group() == b"\r" and match.end() == len(self._buffer)):
                break
            line = self._buffer[: match.start()].decode("utf-8", errors="replace")
            self._buffer = self._buffer[match.end() :]
            event = self._line(line)
            if event is not None:
                events.append(event)
        if len(self._buffer) > MAX_LINE_BYTES:
            raise ValueError("an SSE line longer than 1 MiB")
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return Event("comment", line[1:].removeprefix(" "))
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._kind = value
        # id and retry mean nothing for Hermes' stream; unknown fields are ignored by the spec.
        return None

    def _dispatch(self) -> Event | None:
        kind, self._kind = self._kind or "message", ""
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return Event(kind, data)


class StreamStale(Exception):
    """No fresh price for PRICE_STALE_SECONDS although the connection is open."""


class HermesStream:
    """Run with run() (blocks) and end from any thread with stop()."""

    def __init__(
        self,
        *,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
    ):
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: requests.Response | None = None
        # Its own connection pool: the stream holds a connection for hours.
        self._http = providers.new_session()
        self._state = "connecting"
        self._since = datetime.now(UTC)
        self._last_event_at: datetime | None = None
        self._last_fresh = time.monotonic()
        self._reported = 0.0
        self._delivered = False

    def stop(self) -> None:
        self._stop.set()
        self._hang_up()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        try:
            if settings.HERMES_SSE_ENABLED:
                self._stream_until_stopped()
            else:
                self._wait(float("inf"))
        finally:
            self._http.close()

    def _stream_until_stopped(self) -> None:
        failures = 0
        while not self._stop.is_set():
            reason = self._connect_once()
            if self._stop.is_set():
                return
            metrics.HERMES_STREAM_RECONNECTS.labels(reason).inc()
            # Only connections that delivered nothing make the next attempt wait longer.
            failures = 0 if self._delivered else failures + 1
            self._set_state("reconnecting")
            logger.info("Hermes stream %s; reconnecting", reason)
            self._wait(self._backoff(failures))

    def _backoff(self, failures: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2**failures)
        # Jitter, so several consumers cut off together do not come back together.
        return delay * random.uniform(0.5, 1.0)

    # One connection

    def _connect_once(self) -> str:
        """Consume one connection until it ends; return why it ended."""
        self._delivered = False
        self._set_state("connecting")
        try:
            response = providers.get(
                providers.HERMES,
                f"{settings.HERMES_BASE_URL}/v2/updates/price/stream",
                params=clients.hermes_params(),
                headers={
                    **clients.hermes_headers(),
                    "Accept": "text/event-stream",
                    # A compressed stream would be buffered by the compressor, events delayed.
                    "Accept-Encoding": "identity",
                    "Cache-Control": "no-cache",
                },
                parse=lambda answer: answer,
                retries=0,  # the reconnect loop is the retry, with its own backoff
                stream=True,
                read_timeout=float(settings.PRICE_STALE_SECONDS),
                http=self._http,
            )
        except ExternalServiceError as exc:
            logger.debug("Hermes stream refused: %s", exc)
            return "error"
        with self._lock:
            self._response = response
        try:
            if self._stop.is_set():
                return "closed"
            self._consume(response)
            return "closed"
        except StreamStale:
            return "stale"
        except (requests.RequestException, OSError, ValueError):
            # A read timeout is how a connection that went quiet without keep-alives ends.
            return "stale" if self._silent_too_long() else "dropped"
        finally:
            with self._lock:
                self._response = None
            response.close()

    def _consume(self, response: requests.Response) -> None:
        self._last_fresh = time.monotonic()
        self._set_state("connected")
        parser = SseParser()
        # chunk_size=None yields each chunk of the chunked body as it arrives.
        for chunk in response.iter_content(chunk_size=None):
            if self._stop.is_set():
                return
            for event in parser.feed(chunk):
                self._handle(event)
            if self._silent_too_long():
                raise StreamStale
            self._report()

    def _silent_too_long(self) -> bool:
        return time.monotonic() - self._last_fresh > settings.PRICE_STALE_SECONDS

    def _handle(self, event: Event) -> None:
        if event.kind == "comment":
            metrics.HERMES_STREAM_EVENTS.labels("keepalive").inc()
            return
        if event.kind == "error":
            metrics.HERMES_STREAM_EVENTS.labels("error").inc()
            logger.warning("Hermes stream error: %s", event.data[:200])
            return
        if event.kind != "message":
            return
        try:
            value = clients.sol_usd_from_update(
                json.loads(event.data, parse_float=Decimal), source="hermes_stream"
            )
        except _UNREADABLE as exc:
            metrics.HERMES_STREAM_EVENTS.labels("malformed").inc()
            logger.debug("unreadable Hermes stream event: %s", exc)
            return
        metrics.HERMES_STREAM_EVENTS.labels("price").inc()
        services.sol_usd_store(value)
        self._delivered = True
        self._last_event_at = datetime.now(UTC)
        # An old price flowing is as good as none: only a fresh one keeps the stream alive.
        if not selectors.sol_usd_is_stale(value):
            self._last_fresh = time.monotonic()

    def _hang_up(self) -> None:
        """Wake a read blocked on the socket: closing the response from another thread does
        not interrupt a blocked recv, shutting the socket down does."""
        with self._lock:
            response = self._response
        if response is None:
            return
        # http.client hands the socket over to the response, so it is reached by descriptor;
        # shutting down a duplicate shuts down the connection both refer to.
        with contextlib.suppress(OSError, ValueError):
            descriptor = response.raw.fileno()
            with socket.fromfd(descriptor, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
                duplicate.shutdown(socket.SHUT_RDWR)

    # While the stream is down

    def _wait(self, seconds: float) -> None:
        """Wait before reconnecting, keeping SOL/USD fresh over REST meanwhile."""
        deadline = time.monotonic() + seconds
        refresh = float(settings.SOL_USD_REFRESH_SECONDS)
        while not self._stop.is_set():
            self._rest_fallback(refresh)
            # Only while the stream is down: while it flows, ticks watch SOL/USD.
            services.sol_usd_watch()
            self._report()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._stop.wait(min(remaining, refresh))

    @staticmethod
    def _rest_fallback(refresh: float) -> None:
        cached = selectors.sol_usd_latest()
        if (
            not selectors.sol_usd_is_stale(cached)
            and (datetime.now(UTC) - cached.received_at).total_seconds() < refresh
        ):
            return
        # A failure is counted and kept in the provider's status; the next round tries again.
        with contextlib.suppress(ExternalServiceError):
            services.sol_usd_refresh()

    # Reporting

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state, self._since = state, datetime.now(UTC)
        self._report(force=True)

    def _report(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._reported < REPORT_SECONDS:
            return
        self._reported = now
        services.hermes_stream_state_store(
            selectors.StreamState(self._state, self._since, self._last_event_at)
        )
