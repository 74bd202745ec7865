"""A Celery worker's own Prometheus metrics, on a port of its own.

In production the price tick, the exits and the buys run in Celery workers, so their counters
and histograms (provider faults, poll ticks and skips, tick durations) live in the worker, not
in the web process that serves /metrics. With NEXGENT_WORKER_METRICS_PORT set, a worker serves
them at http://NEXGENT_WORKER_METRICS_ADDR:PORT/metrics from the moment it starts.

With the thread pool (or solo) the worker is one process and its own registry is the whole
story. With the prefork pool the work happens in child processes: give the worker an empty
directory of its own in PROMETHEUS_MULTIPROC_DIR and it serves its children's metrics, summed
(prometheus_client's multiprocess mode), instead.
"""

import os

from celery import signals
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@signals.worker_init.connect
def worker_metrics_serve(**kwargs) -> None:
    port = settings.WORKER_METRICS_PORT
    if port is None:
        return
    start_http_server(port, addr=settings.WORKER_METRICS_ADDR, registry=_registry())


@signals.worker_process_shutdown.connect
def _child_metrics_retire(pid: int | None = None, **kwargs) -> None:
    # A prefork child that exits leaves its files; its live gauges must stop being reported.
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        multiprocess.mark_process_dead(pid or os.getpid())


def _registry() -> CollectorRegistry:
    if not os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
