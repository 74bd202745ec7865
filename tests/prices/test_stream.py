"""The Hermes SSE consumer against localnet's stream: it parses events, ignores keep-alives,
reconnects after drops and ends, detects silence, and falls back to REST meanwhile."""

import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from prices.hermes_stream import Event, HermesStream, SseParser
from prices.selectors import hermes_stream_state, sol_usd_is_stale, sol_usd_latest
from trading.models import Position

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = "nexgent_hermes_stream_events_total"
RECONNECTS = "nexgent_hermes_stream_reconnects_total"


def eventually(check, timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _source() -> str | None:
    value = sol_usd_latest()
    return value.source if value is not None else None


# Parsing


STREAM = (
    b": welcome\n\n"
    b'data: {"a":1}\n\n'
    b"event: error\r\ndata: Error receiving update: x\r\n\r\n"
    b"data: line one\rdata: line two\r\r"
    b"id: 7\nretry: 100\n\n"  # no data: nothing to dispatch
    b"data:no space\n\n"
)
EXPECTED = [
    Event("comment", "welcome"),
    Event("message", '{"a":1}'),
    Event("error", "Error receiving update: x"),
    Event("message", "line one\nline two"),
    Event("message", "no space"),
]


def test_events_comments_and_line_endings_are_parsed():
    assert SseParser().feed(STREAM) == EXPECTED


def test_chunks_may_split_anything_even_a_crlf():
    parser = SseParser()
    events = []
    for index in range(len(STREAM)):
        events += parser.feed(STREAM[index : index + 1])
    assert events == EXPECTED


def test_an_endless_line_is_refused():
    with pytest.raises(ValueError):
        SseParser().feed(b"data: " + b"x" * (2 << 20))


# The consumer


@pytest.fixture
def consumer():
    return HermesStream(backoff_base=0.1, backoff_max=0.5)


@pytest.fixture
def start_stream(consumer, localnet, market, settings):
    settings.PRICE_STALE_SECONDS = 2
    settings.SOL_USD_REFRESH_SECONDS = Decimal("0.5")
    market.hermes_stream.configure(interval=0.1, keepalive=0.2)
    thread = threading.Thread(target=consumer.run, daemon=True)

    def start() -> threading.Thread:
        thread.start()
        return thread

    yield start
    consumer.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_stream_keeps_sol_usd_fresh(start_stream, market):
    market.set_sol_usd(Decimal("147.48"))
    start_stream()
    eventually(lambda: _source() == "hermes_stream")
    assert sol_usd_latest().price == Decimal("147.48")
    assert hermes_stream_state().state == "connected"

    market.set_sol_usd(Decimal("150.25"))

    eventually(lambda: sol_usd_latest().price == Decimal("150.25"))


def test_keepalives_are_not_prices(start_stream, market, counted):
    market.hermes_stream.configure(interval=None, keepalive=0.05)  # updates only by hand
    start_stream()
    eventually(lambda: market.hermes_stream.state()["open_connections"] == 1)
    market.hermes_stream.publish()

    eventually(lambda: counted(EVENTS, kind="keepalive") >= 3)
    assert counted(EVENTS, kind="price") == 1


def test_a_dropped_stream_reconnects(start_stream, market, counted):
    start_stream()
    eventually(lambda: counted(EVENTS, kind="price") >= 1)

    market.hermes_stream.drop()

    eventually(lambda: counted(RECONNECTS, reason="dropped") == 1)
    eventually(lambda: market.hermes_stream.state()["connections"] == 2)
    delivered = counted(EVENTS, kind="price")
    eventually(lambda: counted(EVENTS, kind="price") > delivered)


def test_a_clean_end_reconnects(start_stream, market, counted):
    start_stream()
    eventually(lambda: counted(EVENTS, kind="price") >= 1)

    market.hermes_stream.end()

    eventually(lambda: counted(RECONNECTS, reason="closed") == 1)
    eventually(lambda: market.hermes_stream.state()["open_connections"] == 1)


def test_silence_is_detected_and_rest_fills_in(start_stream, market, counted):
    start_stream()
    eventually(lambda: _source() == "hermes_stream")

    market.hermes_stream.silence()  # keep-alives go on, prices stop

    eventually(lambda: counted(RECONNECTS, reason="stale") >= 1)
    eventually(lambda: _source() == "hermes_rest")
    assert not sol_usd_is_stale(sol_usd_latest())
    assert counted("nexgent_price_provider_requests_total", provider="hermes", outcome="ok") >= 2


def test_a_refused_connection_is_retried(start_stream, market, counted):
    # The first connection and the REST call made while waiting both fail.
    market.inject_fault("hermes", status=503, count=2)
    start_stream()

    eventually(lambda: _source() == "hermes_stream")
    assert counted(RECONNECTS, reason="error") >= 1


def test_error_events_are_counted_and_the_stream_goes_on(start_stream, market, counted):
    start_stream()
    eventually(lambda: counted(EVENTS, kind="price") >= 1)

    market.hermes_stream.error()

    eventually(lambda: counted(EVENTS, kind="error") == 1)
    delivered = counted(EVENTS, kind="price")
    eventually(lambda: counted(EVENTS, kind="price") > delivered)
    assert counted(RECONNECTS, reason="dropped") == 0


def test_stop_interrupts_a_blocked_read(start_stream, consumer, market):
    market.hermes_stream.configure(interval=None, keepalive=60)  # nothing unless published
    thread = start_stream()
    eventually(lambda: market.hermes_stream.state()["open_connections"] == 1)
    market.hermes_stream.publish()
    eventually(lambda: _source() == "hermes_stream")
    time.sleep(0.1)  # now blocked reading, with nothing coming for a minute
    started = time.monotonic()

    consumer.stop()

    thread.join(timeout=2)
    assert not thread.is_alive()
    assert time.monotonic() - started < 1


def test_with_sse_disabled_it_polls_rest(start_stream, market, settings):
    settings.HERMES_SSE_ENABLED = False
    start_stream()

    eventually(lambda: _source() == "hermes_rest")
    assert market.hermes_stream.state()["connections"] == 0


# The stream and the tick


@pytest.mark.django_db
def test_the_tick_uses_the_streamed_price_without_asking_hermes(
    start_stream, position, market, tick
):
    start_stream()
    eventually(lambda: _source() == "hermes_stream")
    market.clear_recorded()

    tick()

    assert [r for r in market.recorded("hermes") if r.path.endswith("/latest")] == []


@pytest.mark.django_db
def test_stream_silent_and_rest_down_nothing_is_evaluated(
    start_stream, position, market, token, tick, counted, gauge
):
    start_stream()
    eventually(lambda: _source() == "hermes_stream")
    market.hermes_stream.silence()
    market.inject_fault("hermes", status=503, count=10_000)
    market.set_price(token, position.purchase_price * Decimal("0.1"))
    eventually(lambda: counted(RECONNECTS, reason="stale") >= 1)
    eventually(lambda: sol_usd_is_stale(sol_usd_latest()))

    tick()

    unchanged = Position.objects.get(pk=position.pk)
    assert (unchanged.status, unchanged.lowest_price) == ("open", position.lowest_price)
    assert gauge("nexgent_sol_usd_stale") == 1
    assert counted("nexgent_price_poll_ticks_total", outcome="unpriced") == 1

    market.clear_faults("hermes")
    market.hermes_stream.resume()
    eventually(lambda: not sol_usd_is_stale(sol_usd_latest()))
    tick()

    closed = Position.objects.get(pk=position.pk)
    assert (closed.status, closed.close_reason) == ("closed", "stop_loss")


@pytest.mark.django_db
def test_an_old_price_from_the_stream_is_not_used(
    start_stream, position, market, token, tick, settings
):
    settings.SOL_USD_REFRESH_SECONDS = Decimal(2)
    # Prices published 3 s ago: older than PRICE_STALE_SECONDS (2 s), yet newer than the one
    # the buy fetched once 3 s have passed, so the streamed ones are what is cached.
    market.set_publish_lag(3)
    start_stream()
    eventually(lambda: _source() == "hermes_stream")
    market.set_price(token, position.purchase_price * Decimal("0.1"))

    tick()

    unchanged = Position.objects.get(pk=position.pk)
    assert (unchanged.status, unchanged.lowest_price) == ("open", position.lowest_price)


# The command


def test_price_stream_command_streams_until_sigterm(localnet, market):
    env = {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "1"),
        "HERMES_BASE_URL": localnet.url,
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "price_stream"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "SSE stream" in process.stdout.readline()
        eventually(lambda: market.hermes_stream.state()["updates_sent"] >= 1, timeout=15)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "price stream stopped" in output
