"""The knobs of localnet's Hermes price stream (GET /v2/updates/price/stream).

The stream's clock is controllable: updates go out at once and then every `interval` seconds
(0.4 s, a Pythnet slot, by default), or only when a test publishes them (`interval=None`). Between them the
stream writes ":" keep-alive comments every `keepalive` seconds, as Hermes does. A test can
drop every open connection (no clean end, like a cut TCP connection), end them cleanly (like
Hermes' 24-hour close), make the feed go silent after N more updates (keep-alives continue, so
only the absence of prices shows it), resume it, and push an `event: error`.

One condition variable wakes every connection when a knob moves, so a test never waits for a
timer to see its command take effect.
"""

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

DEFAULT_INTERVAL = 0.4
# axum's KeepAlive default, which Hermes uses.
DEFAULT_KEEPALIVE = 15.0
KEEPALIVE_FRAME = b":\n\n"
ERROR_FRAME = b"event: error\ndata: Error receiving update: injected by localnet\n\n"


class DropConnection(Exception):
    """Raised by a stream's frames: the server must cut the connection without ending it."""


@dataclass(frozen=True, slots=True)
class _Knobs:
    interval: float | None
    keepalive: float


class HermesStreamControl:
    def __init__(self, interval: float | None = DEFAULT_INTERVAL, keepalive=DEFAULT_KEEPALIVE):
        self._cond = threading.Condition()
        self._knobs = _Knobs(*_checked(interval, keepalive))
        self._published = 0  # updates published by hand (the manual clock)
        self._drops = 0
        self._ends = 0
        self._errors = 0
        self._remaining: int | None = None  # updates left before silence; None: no silence
        self._open = 0
        self._opened = 0
        self._sent = 0

    # Knobs

    def configure(self, *, interval: float | None, keepalive: float) -> None:
        with self._cond:
            self._knobs = _Knobs(*_checked(interval, keepalive))
            self._cond.notify_all()

    def publish(self, count: int = 1) -> None:
        """Send `count` updates now on every open connection (the manual clock)."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        with self._cond:
            self._published += count
            self._cond.notify_all()

    def drop(self) -> None:
        """Cut every open connection, without the chunked body's end."""
        with self._cond:
            self._drops += 1
            self._cond.notify_all()

    def end(self) -> None:
        """End every open connection cleanly, as Hermes does after 24 hours."""
        with self._cond:
            self._ends += 1
            self._cond.notify_all()

    def silence(self, after: int = 0) -> None:
        """Let `after` more updates out in all, then none until resume(); keep-alives go on."""
        if after < 0:
            raise ValueError(f"after cannot be negative, got {after}")
        with self._cond:
            self._remaining = after
            self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            self._remaining = None
            self._cond.notify_all()

    def error(self) -> None:
        """Send one `event: error` on every open connection."""
        with self._cond:
            self._errors += 1
            self._cond.notify_all()

    def state(self) -> dict:
        with self._cond:
            return {
                "interval": self._knobs.interval,
                "keepalive": self._knobs.keepalive,
                "silent": self._remaining == 0,
                "updates_before_silence": self._remaining,
                "open_connections": self._open,
                "connections": self._opened,
                "updates_sent": self._sent,
            }

    # One connection

    def frames(self, update: Callable[[], bytes]) -> Generator[bytes, None, None]:
        """The frames of one connection; `update` renders a `data:` frame of fresh prices.

        The knobs are read now, when the request is answered, so a drop or an end commanded
        before the first frame is written still reaches this connection. The generator raises
        DropConnection when the connection is to be cut.
        """
        with self._cond:
            now = time.monotonic()
            # On the interval clock the first update goes out at once, as Hermes sends one as
            # soon as it has it; on the manual clock only published updates go out.
            cursor = _Cursor(
                self._published,
                self._drops,
                self._ends,
                self._errors,
                now,
                now + self._knobs.keepalive,
            )
        return self._frames(cursor, update)

    def _frames(self, cursor: "_Cursor", update: Callable[[], bytes]):
        with self._cond:
            self._open += 1
            self._opened += 1
        try:
            while (kind := self._next(cursor)) is not None:
                yield update() if kind == "update" else _FRAMES[kind]
                cursor.next_keepalive = time.monotonic() + self._knobs.keepalive
        finally:
            with self._cond:
                self._open -= 1

    def _next(self, cursor: "_Cursor") -> str | None:
        """Block until this connection's next frame is due: its kind, or None at a clean end."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._drops != cursor.drops:
                    raise DropConnection
                if self._ends != cursor.ends:
                    return None
                if self._errors != cursor.errors:
                    cursor.errors = self._errors
                    return "error"
                if self._update_due(cursor, now) and self._take_update():
                    return "update"
                if now >= cursor.next_keepalive:
                    return "keepalive"
                wait = cursor.next_keepalive - now
                if self._knobs.interval is not None:
                    wait = min(wait, cursor.next_update - now)
                self._cond.wait(wait)

    def _update_due(self, cursor: "_Cursor", now: float) -> bool:
        """Whether the clock ticked for this connection (by hand or by the interval); moves
        the connection's clock on. The caller holds the lock."""
        interval = self._knobs.interval
        if self._published != cursor.published:
            cursor.published += 1  # one published update at a time
            return True
        if interval is None or now < cursor.next_update:
            return False
        cursor.next_update = now + interval
        return True

    def _take_update(self) -> bool:
        """Count one update out, unless the feed is silent. The caller holds the lock."""
        if self._remaining == 0:
            return False
        if self._remaining is not None:
            self._remaining -= 1
        self._sent += 1
        return True


@dataclass(slots=True)
class _Cursor:
    """What one connection has seen of the knobs, and when its next frames are due."""

    published: int
    drops: int
    ends: int
    errors: int
    next_update: float
    next_keepalive: float


_FRAMES = {"keepalive": KEEPALIVE_FRAME, "error": ERROR_FRAME}


def _checked(interval, keepalive) -> tuple[float | None, float]:
    if interval is not None and not interval > 0:
        raise ValueError(f"interval must be positive or null, got {interval}")
    if not keepalive > 0:
        raise ValueError(f"keepalive must be positive, got {keepalive}")
    return (float(interval) if interval is not None else None), float(keepalive)
