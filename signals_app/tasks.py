from celery import shared_task

from signals_app import services


@shared_task(acks_late=True)
def signal_fan_out(signal_id: int) -> None:
    services.signal_fan_out(signal_id=signal_id)


@shared_task(acks_late=True)
def signal_execute_batch(signal_id: int, agent_ids: list[int], decimals: int | None = None) -> None:
    # `decimals`: the token's, as the fan-out found them (messages queued before it was added
    # carry none, and the batch looks them up).
    services.signal_execute_batch(signal_id=signal_id, agent_ids=agent_ids, decimals=decimals)


# Buys queued one agent at a time, before batches: still consumed after an upgrade.
@shared_task(acks_late=True)
def signal_execute(signal_id: int, agent_id: int) -> None:
    services.signal_execute(signal_id=signal_id, agent_id=agent_id)
