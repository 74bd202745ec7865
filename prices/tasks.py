import logging

from celery import shared_task
from django.core.cache import cache

from nexgent.http import ExternalServiceError
from prices.services import prices_refresh
from trading.automation import positions_evaluate
from trading.models import Position, PositionStatus

logger = logging.getLogger(__name__)

POLL_LOCK = "lock:price_poll"
POLL_LOCK_SECONDS = 30


def tracked_tokens() -> list[str]:
    """Tokens with open positions: a new position is tracked from the next tick on."""
    return sorted(
        Position.objects.filter(status=PositionStatus.OPEN)
        .values_list("token_address", flat=True)
        .distinct()
    )


@shared_task(ignore_result=True)
def price_poll() -> None:
    """One tick: refresh prices of tracked tokens and evaluate their open positions.

    Never overlaps: a run still going makes this one skip (the cache lock is shared by every
    worker in production through Redis).
    """
    if not cache.add(POLL_LOCK, "1", timeout=POLL_LOCK_SECONDS):
        logger.debug("price poll skipped: previous tick still running")
        return
    try:
        tokens = tracked_tokens()
        if not tokens:
            return
        try:
            prices = prices_refresh(tokens)
        except ExternalServiceError as exc:
            logger.warning("price poll: %s; no position evaluated this tick", exc)
            return
        if prices:
            positions_evaluate(prices)
    finally:
        cache.delete(POLL_LOCK)
