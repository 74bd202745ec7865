"""Reads of the market-data state for the API and the metrics: everything here comes from the
shared cache, so any process answers the same, and nothing here calls a provider."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings

from prices import providers, services


@dataclass(frozen=True, slots=True)
class SolUsdStatus:
    price: Decimal | None
    updated_at: datetime | None  # Pyth's publish time of the price
    is_stale: bool
    source: str | None
    age_seconds: float | None


def sol_usd_status() -> SolUsdStatus:
    value = services.sol_usd_latest()
    if value is None:
        return SolUsdStatus(None, None, True, None, None)
    return SolUsdStatus(
        price=value.price,
        updated_at=value.published_at,
        is_stale=services.sol_usd_is_stale(value),
        source=value.source,
        age_seconds=max(0.0, (datetime.now(UTC) - value.published_at).total_seconds()),
    )


def last_tick() -> services.TickRecord | None:
    return services.poll_tick_last()


def provider_statuses() -> list[providers.ProviderStatus]:
    return [providers.status(provider) for provider in providers.PROVIDERS]


def data_sources_status() -> dict:
    """What GET /api/v1/data-sources/status reports (see prices.serializers)."""
    stream = services.hermes_stream_state()
    tick = last_tick()
    return {
        "price_source": settings.PRICE_SOURCE,
        "stale_seconds": settings.PRICE_STALE_SECONDS,
        "providers": provider_statuses(),
        "sol_usd": sol_usd_status(),
        "hermes_stream": stream,
        "last_tick": tick,
    }
