"""A provider's status after successful calls: a success rewrites it only when a reader would
see a change, a run of failures ending or last_success_at a second old, so most requests
write nothing. Swap quotes have no budget of ours: counted, never refused."""

import time

import pytest

from nexgent.http import ExternalServiceError
from prices import clients, providers
from tests.localnet.support import WSOL


def _quote(token: str) -> dict:
    return clients.jupiter_quote(input_mint=WSOL, output_mint=token, amount=10**9, slippage_bps=50)


def _last_success():
    return providers.status(providers.JUPITER_QUOTE).last_success_at


def test_successes_within_a_second_keep_the_first_ones_time(localnet, token):
    _quote(token)
    first = _last_success()

    _quote(token)
    _quote(token)

    assert first is not None
    assert _last_success() == first


def test_a_success_a_second_later_writes_its_time(localnet, token):
    _quote(token)
    first = _last_success()
    time.sleep(providers.STATUS_SUCCESS_RESOLUTION.total_seconds())

    _quote(token)

    assert _last_success() > first


def test_a_success_ends_a_run_of_failures_at_once(localnet, market, token):
    _quote(token)
    market.inject_fault("jupiter_quote", status=400)  # not retried: the call fails at once
    with pytest.raises(ExternalServiceError, match="HTTP 400"):
        _quote(token)
    assert providers.status(providers.JUPITER_QUOTE).consecutive_failures == 1

    _quote(token)

    status = providers.status(providers.JUPITER_QUOTE)
    assert status.consecutive_failures == 0
    assert status.last_success_at > status.last_error_at


def test_quotes_are_counted_in_the_status_and_never_refused(localnet, market, token, settings):
    # Jupiter's price budget is Jupiter's, not the quotes': quotes are on the trade path.
    settings.JUPITER_PRICE_REQUESTS_PER_MINUTE = 1
    for _ in range(3):
        _quote(token)

    status = providers.status(providers.JUPITER_QUOTE)
    assert (status.requests_in_window, status.budget) == (3, None)
    assert len(market.recorded("jupiter_quote")) == 3
