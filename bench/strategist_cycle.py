"""One AI strategist cycle with 50 candidates and 20 open positions, the model's time left out.

An agent holds 20 open positions; its operator posted buy signals for 50 other tokens; every
one of the 70 tokens has two hours of the engine's own price samples (one every 10 s, as the
tick records them). Each cycle (`strategist_cycle_run`, a new slot each time) takes the
agent's lease, reads its results, account and positions, the candidates' DexScreener markets
(three requests to localnet, in-process over HTTP), builds one-minute candles and indicators
for all 70 tokens from one query, asks localnet's model, checks the answer's decisions and
stores the cycle. The model's own latency (recorded on the cycle) is subtracted: the figure is
the engine's part. Candles are kept in the cache between cycles (every agent's cycle shows
the same tokens), so a cycle reads only the samples of the tokens' last candle; a second row
times cycles that find nothing kept and read all 50,000 samples. The agent's 20 positions fill its `risk.max_open_positions`, so the
model opens nothing and the cycle's figure is not a buy's.
"""

import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.common import Measurement, child_main, settle

CANDIDATES = 50
POSITIONS = 20
HISTORY_MINUTES = 120
SAMPLE_SECONDS = 10
WARMUP = 5
ITERATIONS = 60
COLD_ITERATIONS = 15
GOAL_MILLISECONDS = 200.0
SLOT = datetime(2026, 1, 1, tzinfo=UTC)


def run() -> list[Measurement]:
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command

    from agents.models import User
    from agents.services import agent_create
    from localnet.market import SyntheticMarket
    from localnet.serving import LocalnetServer
    from prices.models import PriceSample
    from signals_app.models import StrategistCycle
    from signals_app.services import signal_create
    from signals_app.strategist_services import llm_credential_set, strategist_cycle_run
    from trading.ledger_services import balance_deposit
    from trading.services import position_buy

    call_command("migrate", verbosity=0, interactive=False)
    market = SyntheticMarket(seed=11, sol_usd=Decimal("150"))
    server = LocalnetServer(market).start()
    try:
        for name, value in server.engine_settings().items():
            setattr(settings, name, value)
        # The model's key is sealed with the master key: a throwaway one, as the live benches.
        settings.WALLET_MASTER_KEY = secrets.token_hex(32)
        owner = User.objects.create_user(email="strategist@example.com", password=None)
        llm_credential_set(
            owner=owner, base_url=f"{server.url}/v1", model="bench", api_key="bench-key"
        )
        agent = agent_create(
            owner=owner,
            name="bench-strategist",
            config={
                "signals": {"decision_source": "ai"},
                "risk": {"max_open_positions": POSITIONS},
                "ai_strategist": {"daily_token_budget": None},
            },
        )
        wallet = agent.wallets.get(mode="simulation")
        balance_deposit(wallet=wallet, amount=Decimal(100))
        now = datetime.now(UTC)
        held, offered = [], []
        for index in range(POSITIONS + CANDIDATES):
            mint = market.add_token(
                symbol=f"S{index:03d}",
                price_sol=Decimal("0.001"),
                decimals=6,
                liquidity_sol=Decimal(2000),
            )
            (held if index < POSITIONS else offered).append(mint)
        for mint in held:
            position_buy(agent=agent, wallet=wallet, token_address=mint, sol_amount=Decimal(1))
        for mint in offered:
            signal_create(owner=owner, token_address=mint, signal_type="BUY", signal_strength=3)
        steps = HISTORY_MINUTES * 60 // SAMPLE_SECONDS
        PriceSample.objects.bulk_create(
            (
                PriceSample(
                    token_address=mint,
                    price_sol=Decimal("0.001") * (1 + Decimal(step % 17 - 8) / 100),
                    source="bench",
                    observed_at=now - timedelta(seconds=SAMPLE_SECONDS * (steps - step)),
                )
                for mint in held + offered
                for step in range(steps)
            ),
            batch_size=5000,
        )

        def cycle(n: int) -> float:
            started = time.perf_counter()
            ran = strategist_cycle_run(agent_id=agent.pk, slot=SLOT + timedelta(minutes=3 * n))
            elapsed = time.perf_counter() - started
            ran.refresh_from_db()
            assert ran.status == "done", (ran.reason, ran.error)
            return elapsed - (ran.latency_ms or 0) / 1000

        for n in range(WARMUP):
            cycle(n)
        settle()
        samples = [cycle(WARMUP + n) for n in range(ITERATIONS)]
        cold = []
        for n in range(COLD_ITERATIONS):
            cache.clear()
            cold.append(cycle(WARMUP + ITERATIONS + n))
        last = StrategistCycle.objects.filter(agent=agent).latest("started_at")
        shown = len(last.prompt[-1]["content"])
        model_ms = sorted(
            StrategistCycle.objects.filter(agent=agent).values_list("latency_ms", flat=True)
        )
    finally:
        server.stop()

    return [
        Measurement(
            "strategist_cycle",
            f"one AI strategist cycle, {CANDIDATES} candidates + {POSITIONS} positions, "
            "the model's time left out",
            samples,
            "ms",
            goal=GOAL_MILLISECONDS,
            details={
                "price_samples_per_token": steps,
                "context_chars": shown,
                "model_latency_ms_p50": model_ms[len(model_ms) // 2],
                "http_requests": "3 DexScreener batches (30 tokens each) + 1 model call",
                "backend": "PostgreSQL + Redis; localnet in-process over HTTP",
            },
        ),
        Measurement(
            "strategist_cycle.cold",
            "the same cycle with no candles kept: every token's two hours of samples read",
            cold,
            "ms",
        ),
    ]


if __name__ == "__main__":
    child_main(run)
