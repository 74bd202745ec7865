from decimal import Decimal

from celery import shared_task

from trading import services


@shared_task(acks_late=True)
def position_exit(position_id: int, reason: str, expected_remaining: str) -> None:
    """Sell everything a position holds, if it still holds what the tick decided on."""
    services.position_close(
        position_id=position_id, reason=reason, expected_remaining=Decimal(expected_remaining)
    )
