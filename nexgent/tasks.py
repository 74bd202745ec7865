"""How tasks run: on Celery workers in production, on an in-process pool by default.

Every task in the project uses NexgentTask, so callers always write `task.delay(...)`. With
TASK_MODE "celery" that publishes to the broker; with "embedded" (no Redis) it runs the task on
a thread pool inside this process, and `EmbeddedBeat` drives the same beat schedule. The task
bodies are identical in every mode; only the transport differs. "eager" (for tests) is Celery's
own task_always_eager: the task runs synchronously in the caller.
"""

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from celery import Task
from django.conf import settings
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def embedded_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=settings.EMBEDDED_WORKERS, thread_name_prefix="nexgent-task"
            )
        return _pool


def shutdown_embedded_pool(wait: bool = True) -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=wait)


def _run_embedded(task: Task, args, kwargs):
    close_old_connections()
    try:
        return task.apply(args=args, kwargs=kwargs, throw=False).get(propagate=False)
    except Exception:
        logger.exception("embedded task %s failed", task.name)
        raise
    finally:
        # Pool threads live as long as the process: hold no connection between tasks.
        connections.close_all()


class NexgentTask(Task):
    def apply_async(self, args=None, kwargs=None, **options):
        if settings.TASK_MODE == "embedded":
            return embedded_pool().submit(_run_embedded, self, args or (), kwargs or {})
        return super().apply_async(args=args, kwargs=kwargs, **options)


class EmbeddedBeat:
    """Runs CELERY_BEAT_SCHEDULE in a daemon thread, dispatching each entry on its period."""

    def __init__(self, app, schedule: dict | None = None):
        self.app = app
        self.schedule = schedule if schedule is not None else settings.CELERY_BEAT_SCHEDULE
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nexgent-beat", daemon=True)
        self._inflight: dict[str, Future] = {}

    def start(self) -> None:
        # Registers every app's tasks module, as a worker does at start.
        self.app.loader.import_default_modules()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        next_run = {name: time.monotonic() for name in self.schedule}
        while not self._stop.is_set():
            now = time.monotonic()
            for name, entry in self.schedule.items():
                if now >= next_run[name]:
                    next_run[name] = now + float(entry["schedule"])
                    self._dispatch(name, entry)
            self._stop.wait(0.05)

    def _dispatch(self, name: str, entry: dict) -> None:
        # Like `expires` on a real beat: an entry whose previous run is still going is not
        # queued again; the task itself also refuses to overlap (see its lock).
        previous = self._inflight.get(name)
        if previous is not None and not previous.done():
            return
        task = self.app.tasks[entry["task"]]
        self._inflight[name] = task.apply_async(
            args=entry.get("args", ()), kwargs=entry.get("kwargs", {})
        )
