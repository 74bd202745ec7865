"""The price tick under faults: it keeps running, never evaluates a position on a stale or
unknown price, and every fault shows in metrics. Positions are bought through the executor
and priced through the real clients against localnet."""

import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from prices import tasks
from prices.models import PriceSample
from prices.selectors import LatestPrice, latest_prices
from prices.services import price_history_purge, price_store
from trading.models import Position
from trading.tasks import POLL_LOCK

pytestmark = pytest.mark.django_db

TICKS = "nexgent_price_poll_ticks_total"
REQUESTS = "nexgent_price_provider_requests_total"


def _crash(market, token, position) -> None:
    """A price far below the stop: any evaluation would move lowest_price and sell."""
    market.set_price(token, position.purchase_price * Decimal("0.1"))


def _untouched(position) -> bool:
    now = Position.objects.get(pk=position.pk)
    return (now.status, now.lowest_price, now.peak_price) == (
        "open",
        position.lowest_price,
        position.peak_price,
    )


def _sold(position) -> bool:
    now = Position.objects.get(pk=position.pk)
    return (now.status, now.close_reason) == ("closed", "stop_loss")


# Each fault: how it is injected, the outcome it is counted as, and how long the provider
# asked to be left alone afterwards.


def _timeout(market, settings):
    settings.HTTP_TIMEOUT_SECONDS = Decimal("0.2")
    market.inject_delay("jupiter_price", 1.0)
    return "timeout", 0


def _server_errors(market, settings):
    market.inject_fault("jupiter_price", status=500, count=3)
    return "server_error", 0


def _rate_limits(market, settings):
    # Jupiter's 429s say when a slot frees (x-ratelimit-reset): the next whole second.
    market.inject_fault("jupiter_price", status=429, count=3)
    return "rate_limited", 1.1


def _malformed(market, settings):
    market.inject_malformed("jupiter_price")
    return "malformed", 0


@pytest.mark.parametrize("fault", [_timeout, _server_errors, _rate_limits, _malformed])
def test_a_price_fault_evaluates_nothing_and_the_next_tick_recovers(
    position, market, token, tick, settings, counted, gauge, fault
):
    _crash(market, token, position)
    outcome, pause = fault(market, settings)

    tick()

    assert _untouched(position)
    assert counted(REQUESTS, provider="jupiter_price", outcome=outcome) >= 1
    assert counted(TICKS, outcome="unpriced") == 1
    assert gauge("nexgent_price_stale_tokens") == 1  # never priced: unknown
    assert gauge("nexgent_price_provider_consecutive_failures", provider="jupiter_price") == 1

    time.sleep(pause)
    tick()

    assert _sold(position)
    assert counted(TICKS, outcome="priced") == 1
    assert gauge("nexgent_price_stale_tokens") == 0
    assert gauge("nexgent_price_provider_consecutive_failures", provider="jupiter_price") == 0


def test_stale_sol_usd_evaluates_nothing_and_warns_once(
    position, market, token, tick, settings, counted, gauge, caplog
):
    settings.PRICE_STALE_SECONDS = 2
    # Hermes fails every attempt of two ticks (3 each), and the SOL/USD the buy fetched ages.
    market.inject_fault("hermes", status=503, count=6)
    _crash(market, token, position)
    time.sleep(2.1)

    with caplog.at_level(logging.WARNING, logger="prices"):
        tick()
        tick()

    assert _untouched(position)
    assert counted(TICKS, outcome="unpriced") == 2
    assert counted(REQUESTS, provider="jupiter_price", outcome="ok") == 0  # nothing to convert
    assert gauge("nexgent_sol_usd_stale") == 1
    warnings = [r.getMessage() for r in caplog.records if "SOL/USD is stale" in r.getMessage()]
    assert len(warnings) == 1

    tick()

    assert _sold(position)
    assert gauge("nexgent_sol_usd_stale") == 0


def test_an_old_price_from_hermes_is_not_used(position, market, token, tick, counted):
    # Hermes is up but its price is a minute old: a Pyth publisher outage.
    market.set_publish_lag(60)
    _crash(market, token, position)

    tick()

    assert _untouched(position)
    assert counted(TICKS, outcome="unpriced") == 1


def test_a_stale_cached_token_price_is_never_evaluated(position, market, token, tick):
    minute_ago = datetime.now(UTC) - timedelta(seconds=60)
    crashed = position.purchase_price * Decimal("0.1")
    price_store([LatestPrice(token, crashed, None, minute_ago, "jupiter")])
    market.inject_fault("jupiter_price", status=500, count=3)

    tick()

    assert _untouched(position)


def test_dexscreener_source_prices_from_price_native(
    position, market, token, tick, settings, counted
):
    settings.PRICE_SOURCE = "dexscreener"
    market.set_price(token, Decimal("0.0123456789"))
    market.clear_recorded()

    tick()

    latest = latest_prices([token])[token]
    assert (latest.source, latest.price_sol) == ("dexscreener", Decimal("0.0123456789"))
    assert {r.service for r in market.recorded()} == {"dexscreener"}  # no Jupiter, no Hermes

    _crash(market, token, position)
    tick()

    assert _sold(position)


def test_dexscreener_faults_evaluate_nothing(position, market, token, tick, settings, counted):
    settings.PRICE_SOURCE = "dexscreener"
    _crash(market, token, position)
    market.inject_fault("dexscreener", status=503, count=3)

    tick()

    assert _untouched(position)
    assert counted(REQUESTS, provider="dexscreener", outcome="server_error") == 3


def test_a_tick_finding_the_previous_one_running_skips_and_is_counted(
    position, market, token, tick, counted
):
    _crash(market, token, position)
    market.clear_recorded()
    cache.add(POLL_LOCK, "1", timeout=30)  # the previous tick, still running

    tick()

    assert _untouched(position)
    assert market.recorded() == []
    assert counted("nexgent_price_poll_skipped_total") == 1

    cache.delete(POLL_LOCK)
    tick()
    assert _sold(position)


def test_beat_entries_expire_before_their_next_run():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert {"price-poll", "price-history-purge"} <= set(schedule)
    for entry in schedule.values():
        assert entry["options"]["expires"] < entry["schedule"]


def test_history_is_recorded_at_a_bounded_rate_per_token(position, token, tick, settings):
    settings.PRICE_HISTORY_MIN_INTERVAL_SECONDS = 1
    for _ in range(3):
        tick()
    assert PriceSample.objects.filter(token_address=token).count() == 1

    time.sleep(1.05)
    tick()

    samples = PriceSample.objects.filter(token_address=token).order_by("observed_at")
    assert samples.count() == 2
    assert samples[1].observed_at - samples[0].observed_at >= timedelta(seconds=1)
    assert samples[0].source == "jupiter"


def test_purge_deletes_only_samples_past_retention(settings, token):
    settings.PRICE_HISTORY_RETENTION_DAYS = 30
    now = datetime.now(UTC)
    for age in (31, 30.5, 29, 1):
        PriceSample.objects.create(
            token_address=token,
            price_sol=Decimal("0.01"),
            source="jupiter",
            observed_at=now - timedelta(days=age),
        )

    assert price_history_purge(now=now) == 2
    assert PriceSample.objects.count() == 2

    tasks.price_history_purge()  # the beat task runs the same service
    assert PriceSample.objects.count() == 2


def test_a_lock_left_by_a_killed_worker_lapses_within_a_lease(
    position, market, token, tick, counted, settings
):
    # A worker killed mid-tick never deletes its lock and no longer renews it.
    settings.PRICE_POLL_LEASE_SECONDS = 1
    _crash(market, token, position)
    cache.add(POLL_LOCK, "a killed worker's tick", timeout=settings.PRICE_POLL_LEASE_SECONDS)

    tick()
    assert counted("nexgent_price_poll_skipped_total") == 1 and _untouched(position)
    deadline = time.monotonic() + 10
    while not _sold(position):
        assert time.monotonic() < deadline, "the stop loss waited for a dead worker's lock"
        time.sleep(0.2)
        tick()


def _slow_tick_in_background(market, settings, delay: float):
    """A tick whose price request takes `delay` seconds, on its own thread; returns the thread
    once the tick holds the lock."""
    import threading

    from trading.tasks import price_poll

    settings.HTTP_TIMEOUT_SECONDS = delay + 5
    market.inject_delay("jupiter_price", delay)
    thread = threading.Thread(target=price_poll, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while cache.get(POLL_LOCK) is None:
        assert time.monotonic() < deadline, "the tick never took its lock"
        time.sleep(0.01)
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_slow_tick_keeps_its_lease_so_ticks_never_overlap(
    position, market, token, counted, settings
):
    from trading.tasks import price_poll

    settings.PRICE_POLL_LEASE_SECONDS = 1
    _crash(market, token, position)
    slow = _slow_tick_in_background(market, settings, delay=5)

    time.sleep(2.5)  # two and a half leases into a tick that takes five seconds
    price_poll()
    slow.join(timeout=30)

    assert counted("nexgent_price_poll_skipped_total") == 1
    assert _sold(position)
    assert cache.get(POLL_LOCK) is None


@pytest.mark.django_db(transaction=True)
def test_a_tick_stuck_past_the_maximum_stops_holding_the_lock(position, market, token, settings):
    settings.PRICE_POLL_LEASE_SECONDS = 1
    settings.PRICE_POLL_MAX_SECONDS = 1
    slow = _slow_tick_in_background(market, settings, delay=8)

    deadline = time.monotonic() + 6
    while cache.get(POLL_LOCK) is not None:
        assert time.monotonic() < deadline, "a stuck tick held the lock past its maximum"
        time.sleep(0.1)
    slow.join(timeout=30)
