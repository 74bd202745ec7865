"""No secret in any log: the production web command (uvicorn, as the Procfile runs it) writes
an access line for every request, with its path and query; credentials in the query (a
WebSocket's `?token=`, an API key) are redacted before the line is written."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from nexgent.logs import redact
from tests.harness import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "eyJhbGciOiJIUzI1NiJ9.s3cr3t-access-token"
API_KEY = "ngt_0123abcd_s3cr3t-api-key"


@pytest.fixture
def web(tmp_path):
    """`web` from the Procfile, on a free port, with its output in a file."""
    port = free_port()
    log = tmp_path / "web.log"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "NEXGENT_TASK_MODE")
    }
    env.update(SECRET_KEY="x" * 50, SQLITE_PATH=str(tmp_path / "web.sqlite3"), LOG_LEVEL="INFO")
    argv = [sys.executable, "-m", "uvicorn", "nexgent.asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", "off"]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_access_log_never_holds_a_credential(web):
    base, log = web
    requests.get(f"{base}/health?token={TOKEN}", timeout=5)
    requests.get(f"{base}/api/v1/trading-signals?api_key={API_KEY}&limit=5", timeout=5)
    deadline = time.monotonic() + 10
    while "api_key=" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)

    text = log.read_text()
    assert TOKEN not in text and "s3cr3t" not in text
    assert "/health?token=[redacted]" in text
    assert "/api/v1/trading-signals?api_key=[redacted]&limit=5" in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/ws/agents/1/?token=abc.def", "/ws/agents/1/?token=[redacted]"),
        ("/x?a=1&key=ngt_1&b=2", "/x?a=1&key=[redacted]&b=2"),
        ("/x?REFRESH=abc", "/x?REFRESH=[redacted]"),
        ("/x?tokens=1&monkey=2", "/x?tokens=1&monkey=2"),  # other names are left alone
        ("https://rpc.example/?api-key=abc123", "https://rpc.example/?api-key=[redacted]"),
        ("redis://:pa55@cache:6379/0", "redis://:[redacted]@cache:6379/0"),
        ("postgres://app:pa55@db/x", "postgres://app:[redacted]@db/x"),
        ("postgres://db/x", "postgres://db/x"),
        ("Authorization: Bearer eyJ.a.b", "Authorization: Bearer [redacted]"),
        ("key nxg_0a1b2c3d_s3cr3t-Key was refused", "key nxg_[redacted] was refused"),
    ],
)
def test_redaction_keeps_everything_but_the_secret(line, expected):
    assert redact(line) == expected


class _Boom(Exception):
    pass


@pytest.mark.parametrize("logger_name", ["prices", "trading", "signals_app", "nexgent"])
def test_the_projects_handler_redacts_messages_arguments_and_tracebacks(logger_name):
    """What every process (web, worker, beat) writes through the project's console handler."""
    import logging

    (handler,) = [
        h for h in logging.getLogger(logger_name).handlers if type(h) is logging.StreamHandler
    ]
    url = "https://rpc.example/?api-key=s3cr3t-rpc-key"
    try:
        raise _Boom(f"GET {url} failed")
    except _Boom as error:
        record = logging.LogRecord(
            logger_name,
            logging.WARNING,
            __file__,
            1,
            "call to %s failed: %s",
            (url, error),
            exc_info=sys.exc_info(),
        )
    assert handler.filter(record)
    written = handler.format(record)

    assert "s3cr3t" not in written
    assert written.count("api-key=[redacted]") == 3  # message argument, exception, traceback


def test_celerys_own_handlers_are_redacted_when_it_sets_up_logging():
    import logging

    from celery import signals

    logger = logging.getLogger("celery-under-test")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        signals.after_setup_logger.send(sender=None, logger=logger)
        record = logging.LogRecord(
            "celery", logging.ERROR, __file__, 1, "Task failed: %s", ("Bearer abc.def",), None
        )
        assert handler.filter(record)
        assert handler.format(record) == "Task failed: Bearer [redacted]"
    finally:
        logger.removeHandler(handler)
