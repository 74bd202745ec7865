"""Live exits run by real Celery worker processes (PostgreSQL + Redis) against localnet's
chain (a real LiteSVM behind the Solana RPC contract):

- two workers handed the same exit at the same moment send one transaction: the chain's
  balances equal the ledger's, which a second sale (even a failed one, which pays its fee)
  would break;
- a worker killed with SIGKILL after it sent a sale and before it saw it confirmed leaves a
  pending swap; once the swap lands, reconcile decides it from the chain and the next exit
  records it once, without sending another.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from nexgent.celery import app as celery_app
from tests.backends import on_postgres
from tests.conftest import TEST_WALLET_MASTER_KEY
from tests.harness import celery_worker_argv, current_database_url
from tests.trading import live_support as live
from trading import tasks
from trading.models import ClosedTrade, LiveSwap, Position, PositionStatus, Transaction
from trading.reconcile_services import wallet_reconcile

REPO_ROOT = Path(__file__).resolve().parents[2]
DUPLICATES = 4


# The live fixtures (chain, token, live_agent, live_wallet) are tests/trading/conftest.py's.


@pytest.fixture
def start_workers(localnet, settings, tmp_path):
    """Starts Celery worker processes on the test database, Redis and localnet, with the
    tests' wallet master key and fast confirmation polling; stops whatever is left of them."""
    running: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "NEXGENT_TASK_MODE": "celery",
        "WALLET_MASTER_KEY": TEST_WALLET_MASTER_KEY,
        "LIVE_CONFIRM_POLL_SECONDS": str(settings.LIVE_CONFIRM_POLL_SECONDS),
        "LIVE_RESEND_SECONDS": str(settings.LIVE_RESEND_SECONDS),
        "LIVE_CONFIRM_TIMEOUT_SECONDS": str(settings.LIVE_CONFIRM_TIMEOUT_SECONDS),
        **localnet.engine_settings(),
    }
    celery_app.control.purge()
    settings.TASK_MODE = "celery"  # .delay publishes to Redis; the workers execute

    def start(*names: str) -> list[subprocess.Popen]:
        started = []
        for name in names:
            log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - the worker writes it
            started.append(
                subprocess.Popen(
                    celery_worker_argv(2, "--hostname", f"{name}@localhost", "--without-heartbeat"),
                    cwd=REPO_ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            log.close()
        running.extend(started)
        wanted = [f"{name}@localhost" for name in names]
        _until(
            lambda: len(celery_app.control.ping(destination=wanted, timeout=0.5)) == len(names),
            60,
            "the workers to answer a ping",
            tmp_path,
        )
        return started

    yield start
    for process in running:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    celery_app.control.purge()


def _until(condition, seconds: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {path.name}\n" + "\n".join(path.read_text().splitlines()[-30:])
                for path in sorted(logs.glob("*.log"))
            )
            pytest.fail(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.05)


def _open_position(agent, wallet, token) -> Position:
    return live.buy(agent, wallet, token).position


@on_postgres
def test_two_workers_racing_the_same_live_exit_send_one_transaction(
    start_workers, chain, live_agent, live_wallet, token, tmp_path
):
    position = _open_position(live_agent, live_wallet, token)
    start_workers("live-race-1", "live-race-2")

    for _ in range(DUPLICATES):
        tasks.position_exit.delay(position.pk, "stop_loss", str(position.remaining_amount))

    _until(
        lambda: ClosedTrade.objects.filter(position=position).exists(),
        60,
        "the exit to be recorded",
        tmp_path,
    )
    _until(_queues_idle, 60, "every duplicate to have run", tmp_path)

    sales = LiveSwap.objects.filter(wallet=live_wallet, side="sell")
    assert [(s.status, s.action_key) for s in sales] == [("landed", f"close:{position.pk}")]
    assert Transaction.objects.filter(position=position, output_mint=live.WSOL).count() == 1
    live.assert_chain_equals_ledger(chain, live_wallet, token)
    assert live.chain_tokens(chain, live_wallet, token) == 0


def _queues_idle() -> bool:
    """Nothing queued in Redis and nothing running on any worker."""
    with celery_app.connection_for_read() as connection:
        waiting = connection.default_channel.client.llen("celery")
    active = celery_app.control.inspect(timeout=1).active() or {}
    return waiting == 0 and bool(active) and not any(active.values())


@on_postgres
def test_a_worker_killed_between_send_and_confirm_leaves_one_sale_recorded_once(
    start_workers, market, chain, live_agent, live_wallet, token, tmp_path
):
    position = _open_position(live_agent, live_wallet, token)
    market.set_slot_time(None)  # the chain stands still: what is sent waits for a slot
    (worker,) = start_workers("live-crash")
    market.clear_recorded()

    tasks.position_exit.delay(position.pk, "stop_loss", str(position.remaining_amount))
    # The sale's first call to the chain is its sendTransaction; the calls after it are the
    # confirmation polls the worker is in when it dies.
    _until(
        lambda: len(market.recorded("solana_rpc")) >= 3,
        60,
        "the sale to be sent and its confirmation polled",
        tmp_path,
    )
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()

    (pending,) = LiveSwap.objects.filter(wallet=live_wallet, side="sell")
    assert pending.status == "pending"
    assert Position.objects.get(pk=position.pk).status == PositionStatus.OPEN
    chain.advance(3)  # the sale the dead worker sent lands, and is confirmed

    outcome = wallet_reconcile(wallet=live_wallet)  # decided from the chain, nothing recorded

    pending.refresh_from_db()
    assert pending.status == "landed"
    assert outcome.result.has_drift and outcome.deposit is None  # on chain, not in the ledger yet
    assert outcome.result.trade_in_flight
    assert not Transaction.objects.filter(tx_signature=pending.signature).exists()

    # The next tick decides the exit again: it records the landed sale and sends nothing new.
    tasks.position_exit.apply(args=(position.pk, "stop_loss", str(position.remaining_amount)))

    assert Position.objects.get(pk=position.pk).status == PositionStatus.CLOSED
    (sale,) = Transaction.objects.filter(position=position, output_mint=live.WSOL)
    assert sale.tx_signature == pending.signature
    assert LiveSwap.objects.filter(wallet=live_wallet, side="sell").count() == 1
    live.assert_chain_equals_ledger(chain, live_wallet, token)
    assert not wallet_reconcile(wallet=live_wallet).result.has_drift
