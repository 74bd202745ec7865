"""A live position's price falls through its stop: from the tick that observes it to the sale
confirmed on chain and recorded, on localnet's chain with real services' latencies injected
(bench/live.py: the set-up, and how the engine's share is counted).

Each sample: the live agent buys 0.5 SOL of a newly listed token (on chain, confirmed; its
reconcile is let finish), the token's price on localnet drops to half, and the price tick runs
in this process as beat's task runs it (`trading.tasks.price_poll`), with tasks on the
embedded pool as `make run` runs them: the tick fetches the price, evaluates the position and
queues its stop-loss exit, which a pool thread executes: Jupiter quote (60 ms), /swap (80 ms),
sign, record, sendTransaction, getSignatureStatuses polled (20 ms per RPC call) until the chain
confirms the sale, getTransaction, the ledger entry committed.

The sample runs from the tick's evaluation of the fetched prices (the engine has observed the
price under the stop) to `position_close` returning (the sale's ledger entry committed). It
splits where the engine sends the sale and where its poll sees it confirmed:

- `live_stop_to_confirmed`: observed -> sale confirmed and recorded. Goal p50 <= 600 ms.
- `.engine`: the engine's own share: the span before the send and the span after the poll that
  saw it confirmed, each less the time the services spent answering its requests. Goal p50
  <= 20 ms.
- `.to_sent`: observed -> sendTransaction called (the exit's dispatch, quote, build, sign).
- `.chain`: sendTransaction called -> the chain confirms the sale (its landing slot plus one,
  from the slot clock): the chain's own time, including the send's 20 ms.
- `.confirm_lag`: the chain confirmed it -> the engine's poll has seen it: what the polling
  interval (LIVE_CONFIRM_POLL_SECONDS) costs, with the poll's own RPC calls.
"""

from decimal import Decimal
from functools import partial

from bench.common import Measurement, child_main, settle
from bench.live import (
    Moments,
    between,
    injected,
    live_rig,
    outside,
    settings_details,
    wait_for,
)

WARMUP = 2
ITERATIONS = 24
SEED = 29
BUY_SOL = Decimal("0.5")
CRASH_FACTOR = Decimal("0.5")
GOAL_MILLISECONDS = 600.0
GOAL_ENGINE_MILLISECONDS = 20.0


def run() -> list[Measurement]:
    from django.test import override_settings

    from nexgent import money
    from nexgent.tasks import shutdown_embedded_pool
    from trading import automation, live, services, tasks
    from trading.models import LiveSwap, Position, PositionStatus
    from wallets.models import WalletReconcile

    rig = live_rig(seed=SEED, agent_config={"stop_loss": {"mode": "fixed"}})
    rows: dict[str, list[float]] = {
        key: [] for key in ("total", "engine", "with_localnet", "to_sent", "chain", "confirm_lag")
    }
    requests_seen = []

    def reconciled_since(moment: float) -> bool:
        result = WalletReconcile.objects.filter(wallet=rig.wallet).first()
        return result is not None and result.checked_at is not None and result.checked_at >= moment

    def closed(position_id: int) -> bool:
        return Position.objects.get(pk=position_id).status == PositionStatus.CLOSED

    points = [
        (automation, "positions_evaluate", "observed", False),
        (live, "_send", "send", False),
        (live, "_landed", "seen", False),
        (services, "position_close", "recorded", True),
    ]
    try:
        with override_settings(TASK_MODE="embedded"), Moments(rig.market, points) as moments:
            for number in range(WARMUP + ITERATIONS):
                token = rig.new_token(number)
                bought = services.position_buy(
                    agent=rig.agent,
                    wallet=rig.wallet,
                    token_address=token,
                    token_symbol=f"L{number:04d}",
                    sol_amount=BUY_SOL,
                    decimals=6,
                )
                # The buy's reconcile (queued on the pool after its commit) is done.
                wait_for(partial(reconciled_since, bought.transaction.created_at), "reconcile")
                rig.market.set_price(token, money.price(rig.market.price_sol(token) * CRASH_FACTOR))
                settle()
                moments.clear()
                tasks.price_poll()
                position_id = bought.position.pk
                wait_for(partial(closed, position_id), "the stop-loss sale")
                closed_at = Position.objects.get(pk=position_id).closed_at
                wait_for(partial(reconciled_since, closed_at), "reconcile")
                if number < WARMUP:
                    continue
                observed = moments.first("observed")
                sent = moments.first("send", preflight=True)
                seen = moments.first("seen", after=sent.at)
                recorded = moments.first("recorded", after=seen.at)
                signature = sent.args[0].signature
                if LiveSwap.objects.get(signature=signature).side != "sell":
                    raise RuntimeError("the send noted is not the sale's")
                confirmed_at = rig.confirmed_on_chain_at(signature)
                before_send = between(sent, observed)
                after_seen = between(recorded, seen)
                rows["total"].append(recorded.at - observed.at)
                rows["engine"].append(
                    (sent.at - observed.at - outside(sent, observed))
                    + (recorded.at - seen.at - outside(recorded, seen))
                )
                rows["with_localnet"].append(
                    (sent.at - observed.at - injected(before_send))
                    + (recorded.at - seen.at - injected(after_seen))
                )
                rows["to_sent"].append(sent.at - observed.at)
                rows["chain"].append(confirmed_at - sent.at)
                rows["confirm_lag"].append(seen.at - confirmed_at)
                requests_seen.append(
                    {"before_send": dict(before_send), "after_seen": dict(after_seen)}
                )
    finally:
        shutdown_embedded_pool(wait=True)
        rig.stop()

    details = {
        **settings_details(),
        "requests_per_sample": requests_seen[0] if requests_seen else {},
        "requests_differ_between_samples": any(r != requests_seen[0] for r in requests_seen),
        "warmup": WARMUP,
        "buy_sol": str(BUY_SOL),
    }
    return [
        Measurement(
            "live_stop_to_confirmed",
            "live agent: tick observes price under stop -> sale confirmed on chain and recorded",
            rows["total"],
            "ms",
            goal=GOAL_MILLISECONDS,
            details=details,
        ),
        Measurement(
            "live_stop_to_confirmed.engine",
            "of which the engine's own share (before the send, after the confirming poll)",
            rows["engine"],
            "ms",
            goal=GOAL_ENGINE_MILLISECONDS,
        ),
        Measurement(
            "live_stop_to_confirmed.engine_counting_localnet",
            "the same less only the injected latency (localnet's own work counted as the engine's)",
            rows["with_localnet"],
            "ms",
        ),
        Measurement(
            "live_stop_to_confirmed.to_sent",
            "observed -> sale sendTransaction called (dispatch, quote 60, swap 80, sign, record)",
            rows["to_sent"],
            "ms",
        ),
        Measurement(
            "live_stop_to_confirmed.chain",
            "sendTransaction called -> the chain confirms the sale (landing slot + 1)",
            rows["chain"],
            "ms",
        ),
        Measurement(
            "live_stop_to_confirmed.confirm_lag",
            "the chain confirmed it -> the engine's poll sees it (LIVE_CONFIRM_POLL_SECONDS)",
            rows["confirm_lag"],
            "ms",
        ),
    ]


if __name__ == "__main__":
    child_main(run)
