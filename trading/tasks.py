"""Task adapters for the position actions a tick decides. Each re-checks, under a row lock,
that the position is still in the state the tick decided on, so a duplicate is a no-op."""

import logging
from decimal import Decimal

from celery import shared_task

from nexgent.http import ExternalServiceError
from trading import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def position_exit(position_id: int, reason: str, expected_remaining: str) -> None:
    """Sell everything a position holds, if it still holds what the tick decided on.

    A failed swap writes nothing; the position stays open, so the next tick decides again.
    """
    try:
        services.position_close(
            position_id=position_id, reason=reason, expected_remaining=Decimal(expected_remaining)
        )
    except ExternalServiceError as exc:
        logger.warning("position %s: %s exit not executed: %s", position_id, reason, exc)


@shared_task(acks_late=True)
def position_take_profit(
    position_id: int,
    token_amount: str,
    expected_levels_hit: int,
    new_levels_hit: int,
    activate_moon_bag: bool,
    moon_bag_amount: str,
    close_position: bool,
) -> None:
    services.position_take_profit(
        position_id=position_id,
        token_amount=Decimal(token_amount),
        expected_levels_hit=expected_levels_hit,
        new_levels_hit=new_levels_hit,
        activate_moon_bag=activate_moon_bag,
        moon_bag_amount=Decimal(moon_bag_amount),
        close_position=close_position,
    )


@shared_task(acks_late=True)
def position_dca_buy(
    position_id: int, sol_amount: str, expected_dca_count: int, take_profit_levels: int
) -> None:
    services.position_dca_buy(
        position_id=position_id,
        sol_amount=Decimal(sol_amount),
        expected_dca_count=expected_dca_count,
        take_profit_levels=take_profit_levels,
    )
