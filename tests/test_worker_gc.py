"""A Celery worker freezes the objects it holds once it is up (nexgent.celery): the garbage
collector's full passes then skip the hundred-thousand-odd objects of Django, Celery and the
project, which otherwise stalled every buying thread for about 85 ms with the GIL held."""

import gc
import weakref

import pytest
from celery import signals

from nexgent.celery import _startup_objects_frozen


def _connected(signal) -> list:
    """The functions connected to a Celery signal (weakly held ones dereferenced)."""
    found = []
    for _, receiver in signal.receivers:
        target = receiver() if isinstance(receiver, weakref.ref) else receiver
        found.append(target)
    return found


@pytest.mark.parametrize(
    "signal",
    [signals.worker_ready, signals.worker_process_init],
    ids=["the worker's own process", "each prefork child"],
)
def test_the_freeze_runs_when_a_worker_process_starts(signal):
    assert _startup_objects_frozen in _connected(signal)


def test_the_freeze_moves_the_live_objects_out_of_the_collectors_reach():
    gc.unfreeze()
    try:
        _startup_objects_frozen()

        assert gc.get_freeze_count() > 10_000
        assert len(gc.get_objects()) < gc.get_freeze_count() / 10
    finally:
        gc.unfreeze()
