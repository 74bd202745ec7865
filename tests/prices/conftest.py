"""Fixtures for the market-data tests: a token on localnet, an open position in it, a tick,
and counters read from the prometheus_client registry the engine reports to."""

from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from trading.tasks import price_poll


def _samples() -> dict:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
    }


@pytest.fixture
def counted():
    """How much a counter grew during the test: counted("name_total", label=value)."""
    before = _samples()

    def read(name: str, **labels) -> float:
        key = (name, frozenset(labels.items()))
        return _samples().get(key, 0.0) - before.get(key, 0.0)

    return read


@pytest.fixture
def gauge():
    """A gauge's current value, or None when it is absent."""

    def read(name: str, **labels) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    return read


@pytest.fixture
def environment(monkeypatch):
    """None of the machine's variables that requests reads (proxies, CA bundle, .netrc): each
    test sets its own."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def token(market) -> str:
    return market.add_token(
        symbol="POPCAT", price_sol=Decimal("0.01"), decimals=6, liquidity_sol=Decimal("5000")
    )


@pytest.fixture
def position(db, localnet, agent, funded_wallet, token):
    from trading.services import position_buy

    return position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal("-32"),
    ).position


@pytest.fixture
def tick(django_capture_on_commit_callbacks):
    """One price tick, with the actions it dispatches run as they would be after commit."""

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            price_poll()

    return run
