"""A signal to a live agent's buy transaction sent, on localnet's chain with real services'
latencies injected (bench/live.py: the set-up, and how the engine's share is counted).

Each sample: a newly listed token, a BUY signal for it recorded by `signal_create`, then the
fan-out task run in this process as a worker runs it (`signals_app.tasks.signal_fan_out`,
which decides for the agents and buys for the first batch itself). The sample runs from the
fan-out's start to the moment the engine calls sendTransaction with the signed buy. In
between: the fan-out's decision, the buy's token data, the Jupiter quote (60 ms), the /swap
build (80 ms), the signature, the swap row committed before sending. Tasks run inline (eager),
so the confirmation and reconcile that follow each buy end before the next sample starts.

Rows:
- `live_signal_to_sent`: fan-out start -> sendTransaction called.
- `live_signal_to_sent.engine`: the same less the time the services (localnet) spent
  answering the requests made within it. Goal p50 <= 20 ms.
- `live_signal_to_sent.engine_counting_localnet`: the same less only their injected latency.
"""

from bench.common import Measurement, child_main, settle
from bench.live import Moments, between, injected, live_rig, outside, settings_details

WARMUP = 2
ITERATIONS = 20  # under the default risk.max_open_positions (25): every buy stays open
SEED = 23
GOAL_ENGINE_MILLISECONDS = 20.0


def run() -> list[Measurement]:
    from signals_app import tasks as signal_tasks
    from signals_app.models import SignalExecution
    from signals_app.services import signal_create
    from trading import live
    from trading.models import LiveSwap

    rig = live_rig(seed=SEED)
    totals, engine, with_localnet, requests_seen = [], [], [], []
    try:
        with Moments(rig.market, [(live, "_send", "send", False)]) as moments:
            for number in range(WARMUP + ITERATIONS):
                token = rig.new_token(number)
                signal, _ = signal_create(
                    owner=rig.owner,
                    token_address=token,
                    symbol=f"L{number:04d}",
                    signal_type="BUY",
                    signal_strength=5,
                )
                settle()
                moments.clear()
                start = moments.note("fan_out")
                signal_tasks.signal_fan_out(signal.pk)
                execution = SignalExecution.objects.get(signal=signal, agent=rig.agent)
                if execution.status != "executed":
                    raise RuntimeError(
                        f"the buy was not made: {execution.reason} {execution.error}"
                    )
                sent = moments.first("send", preflight=True)
                swap = LiveSwap.objects.get(wallet=rig.wallet, mint=token)
                if swap.status != "landed":
                    raise RuntimeError(f"the buy did not land: {swap.status} {swap.reason}")
                if number < WARMUP:
                    continue
                spent = between(sent, start)
                totals.append(sent.at - start.at)
                engine.append(sent.at - start.at - outside(sent, start))
                with_localnet.append(sent.at - start.at - injected(spent))
                requests_seen.append(dict(spent))
    finally:
        rig.stop()

    details = {
        **settings_details(),
        "requests_before_send_per_sample": requests_seen[0] if requests_seen else {},
        "requests_differ_between_samples": any(r != requests_seen[0] for r in requests_seen),
        "warmup": WARMUP,
    }
    return [
        Measurement(
            "live_signal_to_sent",
            "live agent: signal fan-out start -> buy sendTransaction (quote 60, swap 80, RPC 20 ms)",
            totals,
            "ms",
            details=details,
        ),
        Measurement(
            "live_signal_to_sent.engine",
            "of which the engine's own share: total less the time the services spent answering",
            engine,
            "ms",
            goal=GOAL_ENGINE_MILLISECONDS,
        ),
        Measurement(
            "live_signal_to_sent.engine_counting_localnet",
            "total less only the injected latency (localnet's own work counted as the engine's)",
            with_localnet,
            "ms",
        ),
    ]


if __name__ == "__main__":
    child_main(run)
