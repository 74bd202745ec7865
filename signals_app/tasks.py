import logging

from celery import shared_task
from django.db import transaction

from signals_app import services
from signals_app.models import TradingSignal

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
