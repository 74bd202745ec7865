from nexgent import money  # noqa: F401  - raises Decimal precision before any thread starts
from nexgent.celery import app as celery_app

__all__ = ["celery_app"]
