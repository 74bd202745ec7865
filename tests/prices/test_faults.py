"""Provider faults at the HTTP boundary: timeouts, 429s, 5xx, malformed answers, budgets.
Each one fails or recovers the way the contract says, and shows in metrics and status."""

import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from nexgent.http import ExternalServiceError
from prices import clients, providers

REQUESTS = "nexgent_price_provider_requests_total"


def test_a_timeout_fails_the_call_at_once_and_is_counted(
    localnet, market, token, settings, counted
):
    settings.HTTP_TIMEOUT_SECONDS = Decimal("0.2")
    market.inject_delay("jupiter_price", 1.0)
    started = time.monotonic()

    with pytest.raises(ExternalServiceError, match=r"no answer within 0\.2 s"):
        clients.jupiter_prices([token])

    # A timed-out read is not retried within the call: the next tick is the retry.
    assert time.monotonic() - started < 0.9
    assert counted(REQUESTS, provider="jupiter_price", outcome="timeout") == 1
    status = providers.status(providers.JUPITER_PRICE)
    assert status.consecutive_failures == 1
    assert "no answer" in status.last_error


def test_429s_are_retried_then_succeed(localnet, market, token, counted):
    market.inject_fault("dexscreener", status=429, count=2)

    prices = clients.dexscreener_prices([token])

    assert prices[token].price_sol == Decimal("0.01")
    assert len(market.recorded("dexscreener")) == 3
    assert counted(REQUESTS, provider="dexscreener", outcome="rate_limited") == 2
    assert counted(REQUESTS, provider="dexscreener", outcome="ok") == 1
    assert providers.status(providers.DEXSCREENER).consecutive_failures == 0


def test_429s_past_the_retries_fail_the_call_and_are_counted(localnet, market, token, counted):
    market.inject_fault("dexscreener", status=429, count=3)

    with pytest.raises(ExternalServiceError, match="HTTP 429 after 3 attempt"):
        clients.dexscreener_prices([token])

    assert counted(REQUESTS, provider="dexscreener", outcome="rate_limited") == 3
    status = providers.status(providers.DEXSCREENER)
    assert status.consecutive_failures == 1
    assert status.last_error_at is not None


def test_the_retry_waits_for_jupiters_rate_limit_reset(localnet, market, token):
    # Start just after a second boundary: localnet's reset is the next whole second, much
    # later than the 0.25 s a plain backoff would wait.
    time.sleep(1 - time.time() % 1)
    started = time.time()
    market.inject_fault("jupiter_price", status=429)

    assert token in clients.jupiter_prices([token])
    assert time.time() >= int(started) + 1


def test_a_long_retry_after_becomes_a_cooldown_with_no_request(localnet, market, token, counted):
    market.inject_fault("dexscreener", status=429, retry_after=60)
    started = time.monotonic()

    with pytest.raises(ExternalServiceError, match="HTTP 429"):
        clients.dexscreener_prices([token])
    assert time.monotonic() - started < 1  # the tick is not held for a minute

    with pytest.raises(ExternalServiceError, match="cooling down"):
        clients.dexscreener_prices([token])
    assert len(market.recorded("dexscreener")) == 1  # the second call sent nothing
    assert counted(REQUESTS, provider="dexscreener", outcome="throttled") == 1
    assert providers.status(providers.DEXSCREENER).cooldown_until is not None


def test_5xx_is_retried(localnet, market, counted):
    market.inject_fault("hermes", status=503, count=2)

    assert clients.hermes_sol_usd().price == Decimal(150)
    assert counted(REQUESTS, provider="hermes", outcome="server_error") == 2
    assert counted(REQUESTS, provider="hermes", outcome="ok") == 1


def test_5xx_past_the_retries_fails(localnet, market, token, counted):
    market.inject_fault("jupiter_price", status=500, count=3)

    with pytest.raises(ExternalServiceError, match="HTTP 500"):
        clients.jupiter_prices([token])
    assert counted(REQUESTS, provider="jupiter_price", outcome="server_error") == 3


@pytest.mark.parametrize(
    ("service", "call"),
    [
        ("jupiter_price", lambda token: clients.jupiter_prices([token])),
        ("dexscreener", lambda token: clients.dexscreener_prices([token])),
        ("hermes", lambda token: clients.hermes_sol_usd()),
    ],
)
def test_malformed_json_is_an_error_not_a_price(localnet, market, token, counted, service, call):
    market.inject_malformed(service)

    with pytest.raises(ExternalServiceError, match="malformed JSON"):
        call(token)
    assert counted(REQUESTS, provider=service, outcome="malformed") == 1
    assert len(market.recorded(service)) == 1  # not retried: the same proxy would answer again


def test_the_request_budget_refuses_without_sending(localnet, market, token, settings, counted):
    settings.DEXSCREENER_REQUESTS_PER_MINUTE = 2
    clients.dexscreener_prices([token])
    clients.dexscreener_prices([token])

    with pytest.raises(ExternalServiceError, match="budget used up"):
        clients.dexscreener_prices([token])

    assert len(market.recorded("dexscreener")) == 2
    assert counted(REQUESTS, provider="dexscreener", outcome="throttled") == 1
    status = providers.status(providers.DEXSCREENER)
    assert (status.requests_in_window, status.budget, status.window_seconds) == (2, 2, 60)


def test_an_unreachable_provider_is_a_connection_error(settings, counted):
    settings.HERMES_BASE_URL = "http://127.0.0.1:9"  # discard port: nothing listens

    with pytest.raises(ExternalServiceError, match="request failed"):
        clients.hermes_sol_usd()
    assert counted(REQUESTS, provider="hermes", outcome="connection_error") == 1


def test_consecutive_failures_reset_on_success(localnet, market):
    market.inject_fault("hermes", status=500, count=6)
    for _ in range(2):
        with pytest.raises(ExternalServiceError):
            clients.hermes_sol_usd()
    assert providers.status(providers.HERMES).consecutive_failures == 2

    clients.hermes_sol_usd()

    status = providers.status(providers.HERMES)
    assert status.consecutive_failures == 0
    assert status.last_success_at > status.last_error_at


def test_a_refused_call_takes_nothing_from_the_budget(localnet, market, token, settings):
    settings.DEXSCREENER_REQUESTS_PER_MINUTE = 1
    clients.dexscreener_prices([token])
    for _ in range(3):
        with pytest.raises(ExternalServiceError, match="budget used up"):
            clients.dexscreener_prices([token])
    assert providers.status(providers.DEXSCREENER).requests_in_window == 1

    market.inject_fault("hermes", status=429, retry_after=60)
    with pytest.raises(ExternalServiceError, match="HTTP 429"):
        clients.hermes_sol_usd()
    with pytest.raises(ExternalServiceError, match="cooling down"):
        clients.hermes_sol_usd()
    assert providers.status(providers.HERMES).requests_in_window == 1


def test_concurrent_calls_never_overshoot_the_budget(localnet, market, token, settings):
    settings.DEXSCREENER_REQUESTS_PER_MINUTE = 3
    # All within one window: the count does not slide while the calls run.
    if time.time() % 60 > 55:
        time.sleep(60 - time.time() % 60)
    start = threading.Barrier(8)
    outcomes = []

    def call() -> None:
        start.wait()
        try:
            clients.dexscreener_prices([token])
            outcomes.append("sent")
        except ExternalServiceError:
            outcomes.append("refused")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(outcomes) == ["refused"] * 5 + ["sent"] * 3
    assert len(market.recorded("dexscreener")) == 3
    assert providers.status(providers.DEXSCREENER).requests_in_window == 3


# Another process's calls, as a Celery worker would make them: the budget from the environment,
# DexScreener on localnet, Redis from REDIS_URL.
_OTHER_PROCESS = """
import django
django.setup()
from nexgent.http import ExternalServiceError
from prices import clients
for _ in range(2):
    try:
        clients.dexscreener_prices([TOKEN])
        print("sent")
    except ExternalServiceError:
        print("refused")
"""


@pytest.mark.postgres
def test_the_budget_is_shared_by_every_process(localnet, market, token, settings):
    settings.DEXSCREENER_REQUESTS_PER_MINUTE = 2
    clients.dexscreener_prices([token])

    other = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS.replace("TOKEN", repr(token))],
        cwd=Path(__file__).resolve().parents[2],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "nexgent.settings",
            "DEXSCREENER_REQUESTS_PER_MINUTE": "2",
            "DEXSCREENER_BASE_URL": settings.DEXSCREENER_BASE_URL,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    assert other.stdout.split() == ["sent", "refused"]
    assert len(market.recorded("dexscreener")) == 2
    assert providers.status(providers.DEXSCREENER).requests_in_window == 2
