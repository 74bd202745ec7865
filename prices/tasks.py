"""The price tick and the price-history purge, run by beat (CELERY_BEAT_SCHEDULE)."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from nexgent import metrics
from nexgent.http import ExternalServiceError
from prices import clients, services
from trading.automation import positions_evaluate
from trading.models import Position, PositionStatus
from trading.tasks import position_rug_write_off

logger = logging.getLogger(__name__)

POLL_LOCK = "lock:price_poll"
POLL_LOCK_SECONDS = 30


def tracked_tokens() -> list[str]:
    """Tokens with open positions: a new position is tracked from the next tick on."""
    # order_by() drops the model's default ordering, which DISTINCT would otherwise include
    # (one row per position instead of one per token).
    return sorted(
        Position.objects.filter(status=PositionStatus.OPEN)
        .order_by()
        .values_list("token_address", flat=True)
        .distinct()
    )


@shared_task(ignore_result=True)
def price_poll() -> None:
    """One tick: refresh prices of tracked tokens and evaluate their open positions.

    Never overlaps: a run still going makes this one skip, counted in
    nexgent_price_poll_skipped_total (the cache lock is shared by every worker in production
    through Redis).
    """
    if not cache.add(POLL_LOCK, "1", timeout=POLL_LOCK_SECONDS):
        metrics.PRICE_POLL_SKIPPED.inc()
        logger.debug("price poll skipped: previous tick still running")
        return
    try:
        with metrics.PRICE_POLL_SECONDS.time():
            outcome = _tick()
        metrics.PRICE_POLL_TICKS.labels(outcome).inc()
    finally:
        cache.delete(POLL_LOCK)


def _tick() -> str:
    tokens = tracked_tokens()
    if not tokens:
        services.sol_usd_watch()
        services.poll_tick_record(tracked_tokens=0, stale_tokens=0)
        return "idle"
    try:
        fetch = services.prices_fetch(tokens)
    except ExternalServiceError:
        fetch = None  # the provider's status, metrics and log say why
    prices = fetch.prices if fetch is not None else {}
    # Only prices fetched this tick are evaluated: a token without one is left alone. Nothing
    # else comes between the prices and the evaluation: every millisecond here delays an exit.
    if prices:
        positions_evaluate(prices)
    services.sol_usd_watch()
    if fetch is not None:
        services.prices_record(fetch)
        # The feed answered but left these out: a rug when their SOL liquidity is gone too.
        _write_off_rugged([mint for mint in tokens if mint not in prices])
    if prices:
        services.price_history_sample(list(prices.values()))
    stale = services.tokens_watch(tokens)
    services.poll_tick_record(tracked_tokens=len(tokens), stale_tokens=stale)
    return "priced" if prices else "unpriced"


def _write_off_rugged(unpriced: list[str]) -> None:
    """Write off positions in tokens whose price feed fails and whose deepest SOL pool holds
    less than RUG_LIQUIDITY_SOL_THRESHOLD. A failed liquidity fetch is never taken for a rug."""
    if not unpriced:
        return
    try:
        liquidity = clients.liquidity_sol(unpriced)
    except ExternalServiceError:
        return
    rugged = [mint for mint, sol in liquidity.items() if sol < settings.RUG_LIQUIDITY_SOL_THRESHOLD]
    if not rugged:
        return
    for position_id, mode, simulation_on, live_on in Position.objects.filter(
        status=PositionStatus.OPEN, token_address__in=rugged
    ).values_list(
        "pk", "wallet__mode", "agent__automated_trading_simulation", "agent__automated_trading_live"
    ):
        if simulation_on if mode == "simulation" else live_on:
            logger.warning(
                "position %s: token rugged (SOL liquidity under threshold), writing off",
                position_id,
            )
            position_rug_write_off.delay(position_id)


@shared_task(ignore_result=True)
def price_history_purge() -> None:
    deleted = services.price_history_purge()
    if deleted:
        logger.info("price history: %s samples past retention deleted", deleted)
