"""The freshness helpers callers use to refuse rather than guess, and the price sources
PRICE_SOURCE chooses from."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from prices import clients, services
from prices.selectors import LatestPrice, sol_usd_fresh, sol_usd_latest, token_price_fresh
from prices.services import PriceFetch, price_store, prices_fetch, sol_usd_current, sol_usd_store

MINT = "4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R"


def test_sol_usd_current_fetches_once_then_uses_the_fresh_value(localnet, market):
    assert sol_usd_current() == Decimal(150)
    assert sol_usd_current() == Decimal(150)

    assert len(market.recorded("hermes")) == 1
    assert sol_usd_fresh() == Decimal(150)


def test_sol_usd_current_refuses_an_old_price(localnet, market):
    market.set_publish_lag(60)

    assert sol_usd_current() is None
    assert sol_usd_fresh() is None


def test_sol_usd_current_is_none_when_hermes_is_down(localnet, market):
    market.inject_fault("hermes", status=503, count=3)

    assert sol_usd_current() is None


def test_an_older_sol_usd_never_replaces_a_newer_one():
    now = datetime.now(UTC)
    sol_usd_store(clients.SolUsd(Decimal("151"), now, "hermes_stream"))

    sol_usd_store(clients.SolUsd(Decimal("149"), now - timedelta(seconds=5), "hermes_rest"))

    assert sol_usd_latest().price == Decimal("151")


def test_token_price_fresh_is_none_when_unknown_or_stale(settings):
    assert token_price_fresh(MINT) is None

    old = datetime.now(UTC) - timedelta(seconds=settings.PRICE_STALE_SECONDS + 1)
    price_store([LatestPrice(MINT, Decimal("0.01"), None, old, "jupiter")])
    assert token_price_fresh(MINT) is None

    price_store([LatestPrice(MINT, Decimal("0.02"), None, datetime.now(UTC), "jupiter")])
    assert token_price_fresh(MINT).price_sol == Decimal("0.02")


class _FixedPrices:
    """A source as a new provider would add one: a class and a registry entry."""

    name = "fixed"

    def prices(self, mints: list[str]) -> PriceFetch:
        now = datetime.now(UTC)
        return PriceFetch(
            {m: LatestPrice(m, Decimal("0.5"), None, now, self.name) for m in mints}, {}
        )


def test_price_source_names_the_registered_source(monkeypatch, settings):
    monkeypatch.setitem(services.PRICE_SOURCES, "fixed", _FixedPrices())
    settings.PRICE_SOURCE = "fixed"

    fetched = prices_fetch([MINT])

    assert fetched.prices[MINT].price_sol == Decimal("0.5")
    assert fetched.prices[MINT].source == "fixed"


def test_each_source_is_registered_under_its_name():
    assert set(services.PRICE_SOURCES) == {"jupiter", "dexscreener"}
    assert all(name == source.name for name, source in services.PRICE_SOURCES.items())
