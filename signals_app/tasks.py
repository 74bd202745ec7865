import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import transaction

from signals_app import selectors, services
from signals_app.models import TradingSignal
from signals_app.strategist_services import (
    strategist_cycle_run,
    strategist_cycles_due,
    strategist_cycles_purge,
)

logger = logging.getLogger(__name__)


def signal_received(signal: TradingSignal) -> None:
    """Have a newly recorded signal's fan-out run once the transaction that recorded it
    commits (at once when there is none)."""
    transaction.on_commit(lambda: signal_fan_out.delay(signal.pk))


@shared_task(acks_late=True)
def signal_fan_out(signal_id: int) -> None:
    """Decide for every agent, hand every batch of pending buys but the first out, one task
    each, then buy for the first batch here, on what the fan-out just read: a trip through the
    broker and the batch's re-reads would add their latency to every signal's first buy."""
    fan_out = services.signal_fan_out(signal_id=signal_id)
    first, *others = fan_out.batches() or [[]]
    for batch in others:
        try:
            signal_execute_batch.delay(signal_id, batch, fan_out.decimals)
        except Exception:
            # The next batches are still sent; these agents stay pending, for the operator.
            logger.exception("signal %s: a buy batch could not be queued", signal_id)
    if first:
        services.signal_execute_decided(fan_out, first)


@shared_task(acks_late=True)
def signal_execute_batch(signal_id: int, agent_ids: list[int], decimals: int | None = None) -> None:
    # `decimals`: the token's, as the fan-out found them (None: the batch looks them up).
    services.signal_execute_batch(signal_id=signal_id, agent_ids=agent_ids, decimals=decimals)


# Buys queued one agent at a time, before batches: still consumed after an upgrade.
@shared_task(acks_late=True)
def signal_execute(signal_id: int, agent_id: int) -> None:
    services.signal_execute(signal_id=signal_id, agent_id=agent_id)


# Signals (and signals with pending buys) resumed per sweep, at most: a long outage is
# worked off over a few sweeps rather than in one burst.
RESUME_LIMIT = 200


@shared_task(ignore_result=True)
def signals_resume() -> None:
    """Dispatch again the work committed signals still wait for: the fan-out of a signal that
    was never fanned out, the buys of agents still pending. Both are idempotent (decisions
    already recorded stand; a buy is claimed by a conditional update and keyed
    `buy:<signal>:<agent>`), so a sweep that overlaps a slow worker buys nothing twice; buys
    of a signal past SIGNAL_BUY_MAX_AGE_SECONDS are recorded as `signal_expired`. Each
    message expires before the next sweep, which sends it again if it is still needed."""
    unfinished = selectors.signals_unfinished(
        waited_seconds=settings.SIGNAL_RESUME_AFTER_SECONDS, limit=RESUME_LIMIT
    )
    expires = float(settings.SIGNAL_RESUME_INTERVAL_SECONDS)
    for signal_id in unfinished.signals:
        signal_fan_out.apply_async((signal_id,), expires=expires)
    for signal_id, agent_ids in unfinished.pending.items():
        for batch in services.in_batches(agent_ids):
            signal_execute_batch.apply_async((signal_id, batch), expires=expires)
    if unfinished.signals or unfinished.pending:
        logger.warning(
            "resumed %s signal(s) never fanned out and the pending buys of %s signal(s)",
            len(unfinished.signals),
            len(unfinished.pending),
        )


@shared_task(ignore_result=True)
def strategist_cycles_dispatch() -> None:
    """Send each AI strategist agent's cycle of its current slot, if it has none yet. A cycle
    claims its slot and its agent's lease itself, so a message sent twice runs once."""
    for agent_id, slot in strategist_cycles_due():
        strategist_cycle.apply_async(
            (agent_id, slot.isoformat()), expires=settings.STRATEGIST_CYCLE_EXPIRES_SECONDS
        )


@shared_task(acks_late=True, ignore_result=True)
def strategist_cycle(agent_id: int, slot: str) -> None:
    strategist_cycle_run(agent_id=agent_id, slot=datetime.fromisoformat(slot))


@shared_task(ignore_result=True)
def strategist_cycles_purge_old() -> None:
    deleted = strategist_cycles_purge()
    if deleted:
        logger.info("strategist: %s cycles past retention deleted", deleted)
