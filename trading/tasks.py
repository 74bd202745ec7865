"""Task adapters for the position actions a tick decides. Each re-checks, under a row lock,
that the position is still in the state the tick decided on, so a duplicate is a no-op.

The operator's kill switch is checked as each task starts: under `halt` no sale runs, under
`halt` or `reduce_only` no DCA buy; a DCA buy also waits while the agent's risk guards pause
its buys. A refused action writes nothing, so the next tick decides again (docs/risk.md).
"""

import logging
from decimal import Decimal

from celery import shared_task

from agents.models import Agent
from nexgent.http import ExternalServiceError
from trading import services
from trading.risk_selectors import trading_halted
from trading.risk_services import buy_guards_check

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def position_exit(position_id: int, reason: str, expected_remaining: str) -> None:
    """Sell everything a position holds, if it still holds what the tick decided on.

    A failed swap writes nothing; the position stays open, so the next tick decides again.
    """
    if trading_halted():
        # Info, not warning: every tick repeats the decision while the operator's halt lasts.
        logger.info("position %s: %s exit not executed: kill switch halt", position_id, reason)
        return
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
    if trading_halted():
        logger.info("position %s: take-profit sale not executed: kill switch halt", position_id)
        return
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
    agent = Agent.objects.filter(positions__pk=position_id).first()
    if agent is None:
        return
    block = buy_guards_check(agent=agent, opens_position=False)
    if block is not None:
        logger.info("position %s: DCA buy not executed: %s", position_id, block.reason)
        return
    services.position_dca_buy(
        position_id=position_id,
        sol_amount=Decimal(sol_amount),
        expected_dca_count=expected_dca_count,
        take_profit_levels=take_profit_levels,
    )


@shared_task(acks_late=True)
def position_rug_write_off(position_id: int) -> None:
    """BURN what a rugged token's position holds and close it as a rug_pull loss."""
    if trading_halted():
        logger.info("position %s: rug write-off not executed: kill switch halt", position_id)
        return
    services.position_write_off(position_id=position_id)
