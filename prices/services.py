"""The latest-price cache, tracked tokens and token metadata."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache

from nexgent import money
from nexgent.http import ExternalServiceError
from prices import clients
from prices.models import PriceSample, Token

logger = logging.getLogger(__name__)

_PRICE_KEY = "price:{}"
_SOL_USD_KEY = "price:sol_usd"
_CACHE_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class LatestPrice:
    mint: str
    price_sol: Decimal
    price_usd: Decimal | None
    observed_at: datetime
    source: str

    @property
    def is_stale(self) -> bool:
        age = datetime.now(UTC) - self.observed_at
        return age > timedelta(seconds=settings.PRICE_STALE_SECONDS)


def price_store(prices: list[LatestPrice]) -> None:
    cache.set_many({_PRICE_KEY.format(p.mint): p for p in prices}, timeout=_CACHE_SECONDS)


def latest_prices(mints: list[str]) -> dict[str, LatestPrice]:
    found = cache.get_many([_PRICE_KEY.format(m) for m in mints])
    return {value.mint: value for value in found.values()}


def sol_usd_store(value: clients.SolUsd) -> None:
    cache.set(_SOL_USD_KEY, value, timeout=_CACHE_SECONDS)


def sol_usd_latest() -> clients.SolUsd | None:
    return cache.get(_SOL_USD_KEY)


def sol_usd_fresh() -> Decimal | None:
    """SOL/USD if known and fresh; None otherwise. Never a made-up number."""
    value = sol_usd_latest()
    if value is None:
        return None
    if datetime.now(UTC) - value.published_at > timedelta(seconds=settings.PRICE_STALE_SECONDS):
        return None
    return value.price


def sol_usd_current() -> Decimal | None:
    """Fresh SOL/USD for a record: the cached value, else one fetch; None if unknown."""
    value = sol_usd_fresh()
    if value is not None:
        return value
    try:
        return sol_usd_refresh().price
    except ExternalServiceError as exc:
        logger.warning("SOL/USD unknown: %s", exc)
        return None


def sol_usd_refresh() -> clients.SolUsd:
    value = clients.hermes_sol_usd()
    sol_usd_store(value)
    return value


def prices_refresh(mints: list[str]) -> dict[str, LatestPrice]:
    """Fetch USD prices and SOL/USD, convert to SOL per token, cache and return them.

    A token without a price, or any token when SOL/USD is unknown, is simply absent: the
    caller evaluates nothing on it rather than on an invented price.
    """
    if not mints:
        return {}
    sol_usd = sol_usd_refresh()
    usd_prices = clients.jupiter_prices(mints)
    now = datetime.now(UTC)
    fresh = [
        LatestPrice(
            mint=mint,
            price_sol=money.price(quote.usd / sol_usd.price),
            price_usd=quote.usd,
            observed_at=now,
            source="jupiter",
        )
        for mint, quote in usd_prices.items()
    ]
    price_store(fresh)
    _remember_decimals(usd_prices)
    return {p.mint: p for p in fresh}


def _remember_decimals(usd_prices: dict[str, clients.TokenPrice]) -> None:
    known = set(
        Token.objects.filter(mint__in=list(usd_prices), decimals__isnull=False).values_list(
            "mint", flat=True
        )
    )
    for mint, quote in usd_prices.items():
        if mint not in known and quote.decimals is not None:
            Token.objects.update_or_create(mint=mint, defaults={"decimals": quote.decimals})


def token_decimals(mint: str) -> int:
    """The mint's decimals: from the database, else from Jupiter. Never defaulted."""
    if mint == money.WSOL_MINT:
        return money.SOL_DECIMALS
    known = (
        Token.objects.filter(mint=mint, decimals__isnull=False)
        .values_list("decimals", flat=True)
        .first()
    )
    if known is not None:
        return known
    quote = clients.jupiter_prices([mint]).get(mint)
    if quote is None or quote.decimals is None:
        raise ExternalServiceError("jupiter_price", f"decimals of {mint} unknown")
    Token.objects.update_or_create(mint=mint, defaults={"decimals": quote.decimals})
    return quote.decimals


def price_history_record(prices: list[LatestPrice]) -> None:
    PriceSample.objects.bulk_create(
        PriceSample(
            token_address=p.mint,
            price_sol=p.price_sol,
            price_usd=p.price_usd,
            source=p.source,
            observed_at=p.observed_at,
        )
        for p in prices
    )
