"""The production topology as real processes: an ASGI server (uvicorn), a Celery worker and
Celery beat, against PostgreSQL + Redis (started by the test harness) and localnet. A signal
posted over HTTP is bought by the worker; a price drop on the market makes beat's tick sell at
the stop; the agent's WebSocket, served by the ASGI process, sees both through Redis."""

import json
import os
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from agents.auth_services import auth_session_open
from tests.harness import (
    celery_beat_argv,
    celery_worker_argv,
    current_database_url,
    free_port,
    web_argv,
)
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, Position

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.topology,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"), reason="needs the PostgreSQL + Redis backend"
    ),
]


@pytest.fixture
def processes(localnet, tmp_path):
    port, worker_metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "NEXGENT_WORKER_METRICS_PORT": str(worker_metrics_port),
        "DATABASE_URL": current_database_url(),
        "NEXGENT_TASK_MODE": "celery",
        "PRICE_POLL_INTERVAL_SECONDS": "0.5",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        **localnet.engine_settings(),
    }
    commands = {
        "web": web_argv(port),
        "worker": celery_worker_argv(4),
        "beat": celery_beat_argv(tmp_path / "celerybeat-schedule"),
    }
    logs = {name: open(tmp_path / f"{name}.log", "w+") for name in commands}  # noqa: SIM115 - closed at teardown
    running = {
        name: subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, argv in commands.items()
    }
    base = f"127.0.0.1:{port}"
    _wait(lambda: _healthy(base), 30, "the ASGI server to answer /health", running, logs)
    yield base, running, logs, worker_metrics_port
    for process in running.values():
        os.killpg(process.pid, signal.SIGTERM)
    for process in running.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for log in logs.values():
        log.close()


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"http://{base}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _wait(condition, seconds, what, running, logs):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        for name, process in running.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{_tail(logs[name])}")
        time.sleep(0.1)
    pytest.fail(
        f"timed out waiting for {what}\n"
        + "\n".join(f"--- {n}\n{_tail(f)}" for n, f in logs.items())
    )


def _tail(log) -> str:
    log.flush()
    log.seek(0)
    return "".join(log.readlines()[-30:])


def _recv_until(ws, wanted_event, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        if message["type"] == "position_update" and message["data"]["event"] == wanted_event:
            return message["data"]["position"]
    pytest.fail(f"no {wanted_event} event")


def test_signal_to_stop_loss_close_across_processes(
    processes, market, user, agent, wallet, api_key
):
    base, running, logs, worker_metrics_port = processes
    token = market.add_token(
        symbol="TOPO", price_sol=Decimal("0.003"), decimals=6, liquidity_sol=Decimal("4000")
    )
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    access = auth_session_open(user)["access"]
    with connect(
        f"ws://{base}/ws/agents/{agent.pk}/?token={access}",
        additional_headers={"Origin": f"http://{base}"},
    ) as ws:
        response = requests.post(
            f"http://{base}/api/v1/trading-signals",
            json={"token_address": token, "signal_type": "BUY", "signal_strength": 5},
            headers={"X-API-Key": api_key},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        created = _recv_until(ws, "position_created")
        position = Position.objects.get(pk=created["id"])
        assert position.status == "open" and position.signal_id == response.json()["id"]

        market.set_price(token, position.purchase_price * Decimal("0.6"))
        closed = _recv_until(ws, "position_closed")
        assert closed["close_reason"] == "stop_loss"

    _wait(
        lambda: ClosedTrade.objects.filter(position_id=created["id"]).exists(),
        10,
        "the closed trade",
        running,
        logs,
    )
    trade = ClosedTrade.objects.get(position_id=created["id"])
    assert trade.close_reason == "stop_loss"
    assert trade.profit_loss_sol < 0

    # The tick ran in the worker, and so did its counting: the worker serves its own metrics.
    # A tick is counted once it is over, which can be after the sale it dispatched committed.
    priced = ("nexgent_price_poll_ticks_total", (("outcome", "priced"),))
    metrics_url = f"http://127.0.0.1:{worker_metrics_port}/metrics"
    _wait(lambda: priced in _samples(metrics_url), 10, "the tick's count", running, logs)
    worker_metrics = _samples(metrics_url)
    assert worker_metrics[priced] >= 1
    jupiter_ok = (("outcome", "ok"), ("provider", "jupiter_price"))
    assert worker_metrics[("nexgent_price_provider_requests_total", jupiter_ok)] >= 1


def _samples(url: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    text = requests.get(url, timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
