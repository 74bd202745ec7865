"""The Celery application and its single beat schedule (CELERY_BEAT_SCHEDULE in settings)."""

import gc
import os

from celery import Celery, signals
from django.core.signals import setting_changed
from django.dispatch import receiver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexgent.settings")

app = Celery("nexgent", task_cls="nexgent.tasks:NexgentTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Connects the worker's own metrics endpoint to worker start-up (NEXGENT_WORKER_METRICS_PORT).
import nexgent.worker_metrics  # noqa: E402, F401


@receiver(setting_changed)
def _eager_follows_task_mode(setting=None, value=None, **kwargs) -> None:
    """TASK_MODE changed at run time (a test's override): Celery's eager mode follows it, as
    the settings module derives it at start."""
    if setting == "TASK_MODE":
        app.conf.task_always_eager = value == "eager"


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_recycle(sender=None, **kwargs) -> None:
    """Around every task, what Django does around every request: drop a connection that is
    broken or older than CONN_MAX_AGE and keep the others. Celery's own Django fixup would
    close the connection after every task (see CELERY_DB_REUSE_MAX in settings), and opening
    a new one is a PostgreSQL backend start on the path of every signal's buys."""
    if getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _celery_logs_redacted(logger=None, **kwargs) -> None:
    """Celery's worker and beat log through handlers of their own (a task's failure, with its
    exception's text): they redact secrets like the project's own handler."""
    from nexgent.logs import redact_handlers

    if logger is not None:
        redact_handlers(logger)


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _startup_objects_frozen(**kwargs) -> None:
    """Moves every object alive once the worker is up (Django, Celery, the project's modules)
    out of the garbage collector's reach, as they live as long as the process. A full
    collection otherwise walks them all: about 85 ms with the GIL held, every other
    thousand-agent fan-out, which stalls every buying thread of the worker; 13 ms once they are
    frozen. Connected twice: in the worker's own process (the thread pool, and the parent of a
    prefork pool, whose children then share the frozen pages instead of copying them when a
    collection would touch them) and in each prefork child."""
    gc.freeze()
