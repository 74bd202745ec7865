"""Reads of the market-data state: the latest prices, SOL/USD, the last tick, the stream, and
the status report for the API and the metrics. Everything here comes from the shared cache, so
any process answers the same, and nothing here calls a provider."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache

from prices import clients, providers

# The cache keys of the market-data state (written by prices.services).
PRICE_KEY = "price:{}"
SOL_USD_KEY = "price:sol_usd"
LAST_TICK_KEY = "prices:last_tick"
STREAM_KEY = "prices:hermes_stream"


def too_old(moment: datetime) -> bool:
    return datetime.now(UTC) - moment > timedelta(seconds=settings.PRICE_STALE_SECONDS)


@dataclass(frozen=True, slots=True)
class LatestPrice:
    mint: str
    price_sol: Decimal
    price_usd: Decimal | None
    observed_at: datetime
    source: str

    @property
    def is_stale(self) -> bool:
        return too_old(self.observed_at)


def latest_prices(mints: list[str]) -> dict[str, LatestPrice]:
    """The last known price of each mint, fresh or not (check is_stale)."""
    found = cache.get_many([PRICE_KEY.format(m) for m in mints])
    return {value.mint: value for value in found.values()}


def token_price_fresh(mint: str) -> LatestPrice | None:
    """The token's price if known and fresh; None otherwise, for the caller to refuse.

    Only tracked tokens (those with open positions) are priced every tick; for any other
    token this is None, and a buy prices from its own quote instead.
    """
    latest = latest_prices([mint]).get(mint)
    if latest is None or latest.is_stale:
        return None
    return latest


def sol_usd_latest() -> clients.SolUsd | None:
    """The last known SOL/USD, fresh or not (see sol_usd_is_stale)."""
    return cache.get(SOL_USD_KEY)


def sol_usd_is_stale(value: clients.SolUsd | None) -> bool:
    return value is None or too_old(value.published_at)


def sol_usd_fresh() -> Decimal | None:
    """SOL/USD if known and fresh; None otherwise. Never a made-up number."""
    value = sol_usd_latest()
    return None if sol_usd_is_stale(value) else value.price


@dataclass(frozen=True, slots=True)
class TickRecord:
    finished_at: datetime
    stale_tokens: int
    tracked_tokens: int


def poll_tick_last() -> TickRecord | None:
    return cache.get(LAST_TICK_KEY)


@dataclass(frozen=True, slots=True)
class StreamState:
    state: str  # connecting | connected | reconnecting
    since: datetime
    last_event_at: datetime | None


def hermes_stream_state() -> StreamState | None:
    return cache.get(STREAM_KEY)


@dataclass(frozen=True, slots=True)
class SolUsdStatus:
    price: Decimal | None
    updated_at: datetime | None  # Pyth's publish time of the price
    is_stale: bool
    source: str | None
    age_seconds: float | None


def sol_usd_status() -> SolUsdStatus:
    value = sol_usd_latest()
    if value is None:
        return SolUsdStatus(None, None, True, None, None)
    return SolUsdStatus(
        price=value.price,
        updated_at=value.published_at,
        is_stale=sol_usd_is_stale(value),
        source=value.source,
        age_seconds=max(0.0, (datetime.now(UTC) - value.published_at).total_seconds()),
    )


def last_tick() -> TickRecord | None:
    return poll_tick_last()


def provider_statuses() -> list[providers.ProviderStatus]:
    return [providers.status(provider) for provider in providers.PROVIDERS]


def data_sources_status() -> dict:
    """What GET /api/v1/data-sources/status reports (see prices.serializers)."""
    stream = hermes_stream_state()
    tick = last_tick()
    return {
        "price_source": settings.PRICE_SOURCE,
        "stale_seconds": settings.PRICE_STALE_SECONDS,
        "providers": provider_statuses(),
        "sol_usd": sol_usd_status(),
        "hermes_stream": stream,
        "last_tick": tick,
    }
