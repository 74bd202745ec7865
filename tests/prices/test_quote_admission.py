"""Quotes have no budget of ours, so each process admits them on its own view of the provider's
shared state (prices.providers._View): at most VIEW_SECONDS old, this process's own changes seen
at once, its request counts added to the shared ones within VIEW_SECONDS."""

import time

import pytest
from django.core.cache import cache, caches

from nexgent.http import ExternalServiceError
from prices import clients, providers
from tests.localnet.support import WSOL

QUOTE = providers.JUPITER_QUOTE


def _quote(token: str) -> dict:
    return clients.jupiter_quote(input_mint=WSOL, output_mint=token, amount=10**9, slippage_bps=50)


def _cooldown_set_by_another_process(seconds: float) -> None:
    # What _cooldown writes, without telling this process's view.
    cache.set(f"prices:provider:{QUOTE.name}:cooldown", time.time() + seconds, timeout=60)


def test_a_cooldown_jupiter_asks_for_holds_at_once_in_this_process(localnet, market, token):
    _quote(token)
    market.inject_fault("jupiter_quote", status=429, retry_after=60)
    with pytest.raises(ExternalServiceError, match="HTTP 429"):
        _quote(token)

    with pytest.raises(ExternalServiceError, match="cooling down"):
        _quote(token)
    assert len(market.recorded("jupiter_quote")) == 2  # the cooled-down call sent nothing


def test_another_processes_cooldown_holds_within_the_views_age(localnet, market, token):
    _quote(token)
    _cooldown_set_by_another_process(60)
    time.sleep(providers.VIEW_SECONDS)

    with pytest.raises(ExternalServiceError, match="cooling down"):
        _quote(token)
    assert len(market.recorded("jupiter_quote")) == 1


def test_this_processes_quotes_are_in_its_status_at_once(localnet, token):
    for _ in range(3):
        _quote(token)

    assert providers.status(QUOTE).requests_in_window == 3


def test_quotes_reach_the_shared_count_with_no_status_read(localnet, token):
    for _ in range(3):
        _quote(token)
    time.sleep(3 * providers.VIEW_SECONDS)

    # Read straight from the shared counters, as another process's status would.
    assert providers.requests_in_window(QUOTE) == 3


def test_a_refused_quote_is_not_counted(localnet, market, token):
    _quote(token)
    _cooldown_set_by_another_process(60)
    time.sleep(providers.VIEW_SECONDS)
    for _ in range(2):
        with pytest.raises(ExternalServiceError, match="cooling down"):
            _quote(token)

    assert providers.status(QUOTE).requests_in_window == 1


@pytest.mark.postgres
def test_quotes_in_a_burst_read_the_shared_state_once_per_view_age(localnet, token):
    redis = caches["default"].client.get_client(write=True)
    reads_before = _mget_calls(redis)
    started = time.monotonic()
    for _ in range(30):
        _quote(token)
    elapsed = time.monotonic() - started

    reads = _mget_calls(redis) - reads_before
    # One read per view age, one more after the success this process wrote, and the first.
    assert reads <= elapsed / providers.VIEW_SECONDS + 3
    assert reads < 30


def _mget_calls(redis) -> int:
    return redis.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)
