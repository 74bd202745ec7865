"""Market-data housekeeping run by beat. The price tick itself is trading's
(trading.tasks.price_poll): prices only fetches, caches and records prices."""

import logging

from celery import shared_task

from prices import services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def price_history_purge() -> None:
    deleted = services.price_history_purge()
    if deleted:
        logger.info("price history: %s samples past retention deleted", deleted)
