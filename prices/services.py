"""The latest-price cache, SOL/USD, staleness, price history and token metadata.

No price is ever made up: a token or SOL/USD that is unknown or older than PRICE_STALE_SECONDS
is reported as such (None, is_stale, a gauge, one warning per transition) and nothing is
evaluated or bought on it.
"""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple, Protocol

from django.conf import settings
from django.core.cache import cache

from nexgent import metrics, money
from nexgent.http import ExternalServiceError
from prices import clients, events
from prices.models import PriceSample, Token
from prices.selectors import (
    LAST_TICK_KEY,
    PRICE_KEY,
    SOL_USD_KEY,
    STREAM_KEY,
    LatestPrice,
    StreamState,
    TickRecord,
    latest_prices,
    sol_usd_fresh,
    sol_usd_is_stale,
    sol_usd_latest,
)

logger = logging.getLogger(__name__)

_CACHE_SECONDS = 3600
_STALE_FLAG = "prices:stale:{}"
_HISTORY_DUE = "prices:history:{}"
# A stale flag outlives any outage worth one warning; when it expires mid-outage the warning
# is simply repeated once.
_FLAG_SECONDS = 24 * 3600
_STATUS_SECONDS = 7 * 24 * 3600
_PURGE_BATCH = 5000


def _now() -> datetime:
    return datetime.now(UTC)


# Token prices


def price_store(prices: list[LatestPrice]) -> None:
    cache.set_many({PRICE_KEY.format(p.mint): p for p in prices}, timeout=_CACHE_SECONDS)


class PriceFetch(NamedTuple):
    """A tick's prices, and the decimals the source reported with them (Jupiter does)."""

    prices: dict[str, LatestPrice]
    decimals: dict[str, int]


def prices_fetch(mints: list[str]) -> PriceFetch:
    """Fetch the tokens' SOL prices from PRICE_SOURCE, without storing anything yet: the tick
    evaluates its positions first, so caching the prices never delays an exit.

    A token without a price is absent, and so is every token when the source's prices cannot
    be converted to SOL (Jupiter without a fresh SOL/USD): the caller evaluates nothing on them
    rather than on an invented price. Raises ExternalServiceError when the source is down
    altogether.
    """
    if not mints:
        return PriceFetch({}, {})
    return PRICE_SOURCES[settings.PRICE_SOURCE].prices(mints)


def prices_record(fetch: PriceFetch) -> None:
    """Cache the fetched prices (the API, the dashboard and staleness read them) and store the
    decimals of tokens seen for the first time."""
    price_store(list(fetch.prices.values()))
    _remember_decimals(fetch.decimals)


# Price sources: PRICE_SOURCE names one. Adding a source is a class with `name` and `prices`
# and an entry in PRICE_SOURCES (docs/market-data.md has the recipe).


class PriceSource(Protocol):
    name: str  # the PRICE_SOURCE value and LatestPrice.source

    def prices(self, mints: list[str]) -> PriceFetch:
        """SOL prices of the mints it has one for; raises ExternalServiceError when down."""
        ...


class JupiterPrices:
    """Jupiter Price v3 in USD, converted with Pyth's SOL/USD; reports decimals."""

    name = "jupiter"

    def prices(self, mints: list[str]) -> PriceFetch:
        sol_usd = sol_usd_for_tick()
        if sol_usd is None:
            return PriceFetch({}, {})
        usd_prices = clients.jupiter_prices(mints)
        now = _now()
        prices = {
            mint: LatestPrice(
                mint=mint,
                price_sol=money.price(quote.usd / sol_usd.price),
                price_usd=quote.usd,
                observed_at=now,
                source=self.name,
            )
            for mint, quote in usd_prices.items()
        }
        decimals = {
            mint: quote.decimals for mint, quote in usd_prices.items() if quote.decimals is not None
        }
        return PriceFetch(prices, decimals)


class DexScreenerPrices:
    """DexScreener's priceNative of the deepest wSOL pool: already in SOL."""

    name = "dexscreener"

    def prices(self, mints: list[str]) -> PriceFetch:
        now = _now()
        prices = {
            mint: LatestPrice(
                mint=mint,
                price_sol=money.price(quote.price_sol),
                price_usd=quote.price_usd,
                observed_at=now,
                source=self.name,
            )
            for mint, quote in clients.dexscreener_prices(mints).items()
        }
        return PriceFetch(prices, {})


PRICE_SOURCES: dict[str, PriceSource] = {
    source.name: source for source in (JupiterPrices(), DexScreenerPrices())
}


def _remember_decimals(decimals: dict[str, int]) -> None:
    if not decimals:
        return
    known = set(
        Token.objects.filter(mint__in=list(decimals), decimals__isnull=False).values_list(
            "mint", flat=True
        )
    )
    _decimals_store({mint: value for mint, value in decimals.items() if mint not in known})


def _decimals_store(decimals: dict[str, int]) -> None:
    """Store the mints' decimals in one statement: an upsert, so a row stored first by a
    concurrent lookup is updated (its other fields kept) instead of failing the insert."""
    if not decimals:
        return
    Token.objects.bulk_create(
        [Token(mint=mint, decimals=value) for mint, value in decimals.items()],
        update_conflicts=True,
        unique_fields=["mint"],
        update_fields=["decimals", "updated_at"],
    )


def token_decimals(mint: str) -> int:
    """The mint's decimals: from the database, else from Jupiter. Never defaulted."""
    known = token_decimals_stored(mint)
    if known is not None:
        return known
    return token_decimals_remember(mint, token_decimals_fetch(mint))


def token_decimals_stored(mint: str) -> int | None:
    """The mint's decimals as the database knows them, or None."""
    if mint == money.WSOL_MINT:
        return money.SOL_DECIMALS
    stored = Token.objects.filter(mint=mint, decimals__isnull=False)
    return stored.values_list("decimals", flat=True).first()


class TokenUnknown(ExternalServiceError):
    """Jupiter answered and does not know the token: the mint's mistake, not an outage."""


def token_decimals_fetch(mint: str) -> int:
    """The mint's decimals from Jupiter, over HTTP only (no database: any thread may ask)."""
    quote = clients.jupiter_prices([mint]).get(mint)
    if quote is None or quote.decimals is None:
        raise TokenUnknown("jupiter_price", f"decimals of {mint} unknown")
    return quote.decimals


def token_decimals_remember(mint: str, decimals: int) -> int:
    _decimals_store({mint: decimals})
    return decimals


# Token metrics


def token_metrics_fetch(mint: str) -> clients.TokenMetrics | None:
    """The token's metrics, or None when Jupiter does not list it, does not answer in time or
    fails: unknown metrics only make the agents that set a bound ineligible. Never raises an
    ExternalServiceError."""
    try:
        return clients.jupiter_token_metrics(mint)
    except ExternalServiceError as exc:
        logger.warning("token metrics of %s unknown: %s", mint, exc)
        return None


def token_markets_fetch(mints: list[str]) -> dict[str, clients.TokenMarket]:
    """Each token's market (price, liquidity, market cap, volume) from DexScreener; a token it
    lists no SOL pool for is absent. Raises ExternalServiceError when DexScreener fails: the
    caller decides what a market it cannot see means."""
    return clients.dexscreener_markets(mints) if mints else {}


# DexScreener allows about 60 boost requests a minute: every strategist shares one answer a
# minute.
BOOSTS_CACHE_KEY = "prices:token-boosts"
BOOSTS_CACHE_SECONDS = 60


def boosted_tokens_fetch() -> list[str]:
    """The most boosted Solana tokens on DexScreener, read at most once a minute. Raises
    ExternalServiceError when DexScreener fails."""
    boosted = cache.get(BOOSTS_CACHE_KEY)
    if boosted is None:
        boosted = clients.dexscreener_boosted_tokens()
        cache.set(BOOSTS_CACHE_KEY, boosted, timeout=BOOSTS_CACHE_SECONDS)
    return boosted


# SOL/USD


def sol_usd_store(value: clients.SolUsd) -> None:
    """Cache SOL/USD unless an already cached one is newer: the stream and REST both write
    here, and a slow answer must not replace a fresher price."""
    current = cache.get(SOL_USD_KEY)
    if current is not None and current.published_at > value.published_at:
        return
    cache.set(SOL_USD_KEY, value, timeout=_CACHE_SECONDS)


def sol_usd_current() -> Decimal | None:
    """Fresh SOL/USD for a record: the cached value, else one fetch; None if unknown."""
    value = sol_usd_fresh()
    if value is not None:
        return value
    try:
        fetched = sol_usd_refresh()
    except ExternalServiceError as exc:
        logger.debug("SOL/USD unknown: %s", exc)
        return None
    return None if sol_usd_is_stale(fetched) else fetched.price


def sol_usd_refresh() -> clients.SolUsd:
    value = clients.hermes_sol_usd()
    sol_usd_store(value)
    return value


def sol_usd_for_tick() -> clients.SolUsd | None:
    """The SOL/USD a tick converts Jupiter's USD prices with.

    The stream's value while the stream keeps it young (SOL_USD_REFRESH_SECONDS), else one
    fetched now. When neither is to be had the tick gets None and evaluates nothing, rather
    than convert with whatever older value happens to be cached.
    """
    cached = sol_usd_latest()
    if (
        cached is not None
        and cached.source == "hermes_stream"
        and _now() - cached.received_at
        <= timedelta(seconds=float(settings.SOL_USD_REFRESH_SECONDS))
        and not sol_usd_is_stale(cached)
    ):
        return cached
    try:
        fetched = sol_usd_refresh()
    except ExternalServiceError:
        return None  # the provider's status and metrics record why
    return None if sol_usd_is_stale(fetched) else fetched


# Staleness: one warning per transition, shared by every process


def _flag(key: str, raised: bool, was_raised: bool) -> bool | None:
    """Raise or clear a cache flag. True when this call raised it, False when this call
    cleared it, None when nothing changed (or another process got there first)."""
    if raised and not was_raised:
        return True if cache.add(key, 1, timeout=_FLAG_SECONDS) else None
    if was_raised and not raised:
        return False if cache.delete(key) else None
    return None


def sol_usd_watch() -> bool:
    """Log SOL/USD turning stale or fresh (once per transition); return whether it is stale."""
    value = sol_usd_latest()
    stale = sol_usd_is_stale(value)
    key = _STALE_FLAG.format("sol_usd")
    change = _flag(key, stale, cache.get(key) is not None)
    if change is True:
        state = (
            "unknown"
            if value is None
            else f"stale (published {(_now() - value.published_at).total_seconds():.0f} s ago)"
        )
        logger.warning(
            "SOL/USD is %s: buys that need it are refused and Jupiter prices cannot be "
            "converted to SOL until a fresh one arrives",
            state,
        )
        events.data_source_stale.send(
            sender=None,
            source="SOL/USD",
            problem=f"SOL/USD is {state}: buys that need it are refused until a fresh one arrives",
        )
    elif change is False:
        logger.info("SOL/USD fresh again: %s", value.price)
    return stale


def tokens_watch(tokens: list[str]) -> int:
    """Log tracked tokens turning stale or fresh (once per transition); return how many
    have no fresh price."""
    latest = latest_prices(tokens)
    stale = {mint for mint in tokens if mint not in latest or latest[mint].is_stale}
    keys = {mint: _STALE_FLAG.format(mint) for mint in tokens}
    flagged = cache.get_many(list(keys.values()))
    for mint in tokens:
        change = _flag(keys[mint], mint in stale, keys[mint] in flagged)
        if change is True:
            logger.warning(
                "price of %s is %s: its positions are not evaluated until a fresh price arrives",
                mint,
                "stale" if mint in latest else "unknown",
            )
        elif change is False:
            logger.info("price of %s fresh again", mint)
    return len(stale)


def poll_tick_record(*, tracked_tokens: int, stale_tokens: int) -> None:
    cache.set(
        LAST_TICK_KEY,
        TickRecord(_now(), stale_tokens, tracked_tokens),
        timeout=_STATUS_SECONDS,
    )


def hermes_stream_state_store(state: StreamState) -> None:
    # Expires when the consumer stops writing, so a dead price_stream shows as not running.
    cache.set(STREAM_KEY, state, timeout=2 * settings.PRICE_STALE_SECONDS)


# Price history


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


def price_history_sample(prices: list[LatestPrice]) -> int:
    """Record the prices whose token has no sample in the last PRICE_HISTORY_MIN_INTERVAL_SECONDS.

    The interval is claimed with an atomic cache add that expires with it, so with several
    workers still only one sample per token and interval is written.
    """
    keys = {p.mint: _HISTORY_DUE.format(p.mint) for p in prices}
    recent = cache.get_many(list(keys.values()))
    interval = settings.PRICE_HISTORY_MIN_INTERVAL_SECONDS
    due = [
        p
        for p in prices
        if keys[p.mint] not in recent and cache.add(keys[p.mint], 1, timeout=interval)
    ]
    if due:
        price_history_record(due)
        metrics.PRICE_HISTORY_SAMPLES.inc(len(due))
    return len(due)


def price_history_purge(*, now: datetime | None = None) -> int:
    """Delete samples older than PRICE_HISTORY_RETENTION_DAYS, in batches so no single
    statement holds a long lock on a big table. Returns how many were deleted."""
    cutoff = (now or _now()) - timedelta(days=settings.PRICE_HISTORY_RETENTION_DAYS)
    deleted = 0
    while True:
        batch = list(
            PriceSample.objects.filter(observed_at__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:_PURGE_BATCH]
        )
        if not batch:
            return deleted
        deleted += PriceSample.objects.filter(pk__in=batch).delete()[0]
