"""The price tick (run by beat) and the task adapters for the position actions it decides.
Each action re-checks, under a row lock, that the position is still in the state the tick
decided on, so a duplicate is a no-op.

The operator's kill switch is checked as each task starts: under `halt` no sale runs, under
`halt` or `reduce_only` no DCA buy; a DCA buy also waits while the agent's risk guards pause
its buys. A refused action writes nothing, so the next tick decides again (docs/risk.md).
"""

import logging
import threading
import time
import uuid
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from agents.models import Agent, TradingMode
from nexgent import metrics
from nexgent.http import ExternalServiceError
from trading import automation, reconcile_services, services, snapshot_services
from trading.live import SwapFailed
from trading.risk_selectors import trading_halted
from trading.risk_services import buy_guards_check
from trading.rules.exits import ActionKind
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)

POLL_LOCK = "lock:price_poll"
# The tick's lock is a short lease its own watchdog renews while the tick runs: a worker killed
# mid-tick stops renewing, so the next tick runs within a lease instead of waiting out a long
# lock with every stop loss unchecked; a tick that is merely slow keeps its lease, so ticks
# never overlap (an overlapping older tick would write back older peaks and stops). A tick
# stuck past POLL_LOCK_MAX_SECONDS is no longer renewed, so a hung worker cannot stop the
# ticking for good. Both are settings: PRICE_POLL_LEASE_SECONDS, PRICE_POLL_MAX_SECONDS.


@shared_task(ignore_result=True)
def price_poll() -> None:
    """One tick: refresh prices of tracked tokens and evaluate their open positions.

    Never overlaps: a run still going makes this one skip, counted in
    nexgent_price_poll_skipped_total (the cache lock is shared by every worker in production
    through Redis).
    """
    holder = uuid.uuid4().hex
    if not cache.add(POLL_LOCK, holder, timeout=settings.PRICE_POLL_LEASE_SECONDS):
        metrics.PRICE_POLL_SKIPPED.inc()
        logger.debug("price poll skipped: previous tick still running")
        return
    done = threading.Event()
    watchdog = threading.Thread(
        target=_renew_lease, args=(done,), name="price-poll-lease", daemon=True
    )
    watchdog.start()
    try:
        with metrics.PRICE_POLL_SECONDS.time():
            outcome = automation.price_tick(EXECUTOR)
        metrics.PRICE_POLL_TICKS.labels(outcome).inc()
    finally:
        done.set()
        watchdog.join()
        # Only our own lease: one that lapsed (a tick past the maximum) may be another's now.
        if cache.get(POLL_LOCK) == holder:
            cache.delete(POLL_LOCK)


def _renew_lease(done: threading.Event) -> None:
    lease = settings.PRICE_POLL_LEASE_SECONDS
    deadline = time.monotonic() + settings.PRICE_POLL_MAX_SECONDS
    while not done.wait(lease / 3) and time.monotonic() < deadline:
        cache.touch(POLL_LOCK, lease)


class QueuedExecutor:
    """The tick's decisions, each queued as the task that executes it."""

    def act(self, order: automation.Order) -> None:
        action = order.action
        if action.kind.sells_everything:
            # The amount the sale is for: after a take-profit sale on the same tick, a stale
            # close is for what that sale leaves, and the executor checks the position holds
            # exactly it.
            position_exit.delay(
                order.position_id, action.kind.close_reason.value, str(action.token_amount)
            )
        elif action.kind == ActionKind.TAKE_PROFIT_SELL:
            position_take_profit.delay(
                order.position_id,
                str(action.token_amount),
                order.levels_hit,
                action.new_levels_hit,
                action.activate_moon_bag,
                str(action.moon_bag_amount),
                action.close_position,
            )
        elif action.kind == ActionKind.DCA_BUY:
            position_dca_buy.delay(
                order.position_id, str(action.sol_amount), order.dca_count, order.take_profit_levels
            )
        else:
            raise ValueError(f"no task executes a {action.kind} action")

    def write_off(self, position_id: int) -> None:
        position_rug_write_off.delay(position_id)


EXECUTOR = QueuedExecutor()


@shared_task(acks_late=True)
def position_exit(position_id: int, reason: str, expected_remaining: str) -> None:
    """Sell everything a position holds, if it still holds what the tick decided on.

    A failed swap (the venue unreachable, or a live swap refused, slipped or expired) writes
    nothing; the position stays open, so the next tick decides again.
    """
    if trading_halted():
        # Info, not warning: every tick repeats the decision while the operator's halt lasts.
        logger.info("position %s: %s exit not executed: kill switch halt", position_id, reason)
        return
    try:
        services.position_close(
            position_id=position_id, reason=reason, expected_remaining=Decimal(expected_remaining)
        )
    except (ExternalServiceError, SwapFailed) as exc:
        logger.warning("position %s: %s exit not executed: %s", position_id, reason, exc)


@shared_task(acks_late=True)
def position_take_profit(
    position_id: int,
    token_amount: str,
    expected_levels_hit: int,
    new_levels_hit: int,
    activate_moon_bag: bool,
    moon_bag_amount: str,
    close_position: bool,
) -> None:
    """Sell a take-profit level's share, if the position is still where the tick saw it. A
    failed swap writes nothing: the level stays unsold, so the next tick decides again."""
    if trading_halted():
        logger.info("position %s: take-profit sale not executed: kill switch halt", position_id)
        return
    try:
        services.position_take_profit(
            position_id=position_id,
            token_amount=Decimal(token_amount),
            expected_levels_hit=expected_levels_hit,
            new_levels_hit=new_levels_hit,
            activate_moon_bag=activate_moon_bag,
            moon_bag_amount=Decimal(moon_bag_amount),
            close_position=close_position,
        )
    except (ExternalServiceError, SwapFailed) as exc:
        logger.warning("position %s: take-profit sale not executed: %s", position_id, exc)


@shared_task(acks_late=True)
def position_dca_buy(
    position_id: int, sol_amount: str, expected_dca_count: int, take_profit_levels: int
) -> None:
    agent = Agent.objects.filter(positions__pk=position_id).first()
    if agent is None:
        return
    block = buy_guards_check(agent=agent, opens_position=False)
    if block is not None:
        logger.info("position %s: DCA buy not executed: %s", position_id, block.reason)
        return
    try:
        services.position_dca_buy(
            position_id=position_id,
            sol_amount=Decimal(sol_amount),
            expected_dca_count=expected_dca_count,
            take_profit_levels=take_profit_levels,
        )
    except (ExternalServiceError, SwapFailed) as exc:
        # Nothing written: the DCA count is unchanged, so the next tick decides again.
        logger.warning("position %s: DCA buy not executed: %s", position_id, exc)


@shared_task(acks_late=True)
def position_rug_write_off(position_id: int) -> None:
    """BURN what a rugged token's position holds and close it as a rug_pull loss."""
    if trading_halted():
        logger.info("position %s: rug write-off not executed: kill switch halt", position_id)
        return
    services.position_write_off(position_id=position_id)


RECONCILE_LOCK = "lock:wallets_reconcile"


@shared_task(ignore_result=True)
def wallets_reconcile() -> None:
    """Reconcile every live wallet (beat, each RECONCILE_INTERVAL_SECONDS). Never overlaps: a
    run still going makes this one skip. The lock only saves work; correctness does not rest
    on it (each wallet is compared under its row locks, and an older chain read never replaces
    a newer one). It expires after five periods, so a worker killed mid-run holds up the
    schedule for a few minutes at most."""
    holder = uuid.uuid4().hex
    lease = settings.RECONCILE_INTERVAL_SECONDS * 5
    if not cache.add(RECONCILE_LOCK, holder, timeout=lease):
        logger.info("reconcile skipped: the previous run is still going")
        return
    try:
        reconcile_services.wallets_reconcile()
    finally:
        if cache.get(RECONCILE_LOCK) == holder:
            cache.delete(RECONCILE_LOCK)


@shared_task(ignore_result=True)
def wallet_reconcile(wallet_id: int) -> None:
    """Reconcile one live wallet now (after its live trade). A failure is recorded as the
    wallet's error; the next scheduled run tries again."""
    wallet = AgentWallet.objects.filter(pk=wallet_id, mode=TradingMode.LIVE).first()
    if wallet is None:
        return
    try:
        reconcile_services.wallet_reconcile(wallet=wallet)
    except ExternalServiceError:
        return


SNAPSHOT_LOCK = "lock:balance_snapshots"


@shared_task(ignore_result=True)
def balance_snapshots_record() -> None:
    """Snapshot every agent wallet (beat, each BALANCE_SNAPSHOT_INTERVAL_SECONDS). Never
    overlaps: a run still going makes this one skip, so a slow run cannot double the points of
    an hour. The lock lapses after one period, so a worker killed mid-run costs one point."""
    holder = uuid.uuid4().hex
    if not cache.add(SNAPSHOT_LOCK, holder, timeout=settings.BALANCE_SNAPSHOT_INTERVAL_SECONDS):
        logger.info("balance snapshots skipped: the previous run is still going")
        return
    try:
        snapshot_services.balance_snapshots_record()
    finally:
        if cache.get(SNAPSHOT_LOCK) == holder:
            cache.delete(SNAPSHOT_LOCK)
