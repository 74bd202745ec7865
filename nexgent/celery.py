"""The Celery application and its single beat schedule (CELERY_BEAT_SCHEDULE in settings)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexgent.settings")

app = Celery("nexgent", task_cls="nexgent.tasks:NexgentTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
