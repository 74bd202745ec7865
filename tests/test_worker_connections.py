"""A Celery worker keeps its database connection from one task to the next, as the web process
does between requests, and still drops it when DATABASE_CONN_MAX_AGE says so (PostgreSQL +
Redis, a real worker process)."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from nexgent.celery import app as celery_app
from signals_app.models import TradingSignal
from signals_app.services import signal_create
from signals_app.tasks import signal_received
from tests.harness import celery_worker_argv, current_database_url

REPO_ROOT = Path(__file__).resolve().parent.parent
WORKER = "connections@localhost"

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        os.environ.get("NEXGENT_TEST_BACKEND") != "postgres",
        reason="needs the PostgreSQL + Redis backend",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def start_worker(tmp_path):
    """Starts one single-thread worker with the given DATABASE_CONN_MAX_AGE; stops it (and so
    its connection) before the test database is flushed. Returns the sessions that were open on
    the test database before it started: they are not the worker's (a thread of this test
    process, left by an earlier test, may still hold one)."""
    running: list[subprocess.Popen] = []
    log = tmp_path / "worker.log"

    def start(conn_max_age: int) -> set[tuple[int, object]]:
        celery_app.control.purge()
        before = _other_sessions()
        env = {
            **os.environ,
            "DATABASE_URL": current_database_url(),
            "DATABASE_CONN_MAX_AGE": str(conn_max_age),
            "NEXGENT_TASK_MODE": "celery",
        }
        with open(log, "w") as out:
            running.append(
                subprocess.Popen(
                    celery_worker_argv(1, "--hostname", WORKER, "--without-heartbeat"),
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(destination=[WORKER], timeout=0.5):
            assert running[0].poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the worker did not start:\n{log.read_text()}"
        return before

    yield start
    for process in running:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    celery_app.control.purge()


def _other_sessions() -> set[tuple[int, object]]:
    """(pid, backend start) of every session on the test database but this connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return set(cursor.fetchall())


def _run_a_task(user, n: int) -> None:
    """A fan-out (an owner without agents: it reads and writes, and buys nothing), waited for."""
    signal, _ = signal_create(
        owner=user, token_address=f"Token{n}", signal_type="BUY", signal_strength=3
    )
    signal_received(signal)  # its fan-out goes to the worker at commit
    deadline = time.monotonic() + 30
    while not TradingSignal.objects.filter(pk=signal.pk, processed_at__isnull=False).exists():
        assert time.monotonic() < deadline, "the fan-out did not run"
        time.sleep(0.05)
    time.sleep(0.2)  # past the task's end, where the connection would be closed


def test_a_worker_keeps_its_connection_between_tasks(start_worker, settings, user):
    settings.TASK_MODE = "celery"
    not_the_workers = start_worker(conn_max_age=60)
    _run_a_task(user, 1)
    after_first = _other_sessions() - not_the_workers
    _run_a_task(user, 2)

    assert len(after_first) == 1  # one thread, one connection, still open after its task
    assert _other_sessions() - not_the_workers == after_first  # the same one served the second


def test_a_worker_closes_its_connection_when_conn_max_age_is_zero(start_worker, settings, user):
    settings.TASK_MODE = "celery"
    not_the_workers = start_worker(conn_max_age=0)
    _run_a_task(user, 1)

    assert _other_sessions() - not_the_workers == set()
