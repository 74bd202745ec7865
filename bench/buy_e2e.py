"""One simulated buy, end to end: `trading.services.position_buy` against localnet over HTTP.

Funded agents take turns to buy 0.5 SOL of a token none of them has held, a fresh one each
time, as a signal for a newly listed token would make them. There are enough agents that none
holds more open positions than the default limit (risk.max_open_positions, 25), as in a
real engine. Each buy: the token's decimals are looked up (Jupiter Price, then stored), a
Jupiter quote is fetched and filled by the SimulatedVenue, and the executor writes the
position, the ledger entry and both balances in one transaction through the ORM, then sends
the position and balance events after commit. localnet (LocalnetServer + SyntheticMarket) runs
in this process on 127.0.0.1; the database is PostgreSQL and the cache and channel layer are
Redis.

A second row times position_buy on quotes made beforehand: the database transaction and the
events, without HTTP. A third splits out of the whole buy what the events sent after commit
cost (the group_sends to the channel layer).
"""

import itertools
import random
import time
from decimal import Decimal

from bench.common import Measurement, child_main, phase_clock, settle
from bench.rules_per_position import random_price

WARMUP = 20
ITERATIONS = 250
RECORD_ITERATIONS = 250
BUY_SOL = Decimal("0.5")
STOP_LOSS = Decimal("-32")
DEPOSIT_SOL = Decimal("1000")
POSITIONS_PER_AGENT = 25
AGENTS = -(-(WARMUP + ITERATIONS + RECORD_ITERATIONS) // POSITIONS_PER_AGENT)
GOAL_MILLISECONDS = 10.0
SEED = 5


def run() -> list[Measurement]:
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from agents.models import User
    from agents.services import agent_create
    from localnet.market import SyntheticMarket
    from localnet.serving import LocalnetServer
    from nexgent import realtime
    from trading.ledger_services import balance_deposit
    from trading.models import Position
    from trading.services import position_buy
    from trading.venues import SimulatedVenue

    call_command("migrate", verbosity=0, interactive=False)
    rng = random.Random(SEED)
    market = SyntheticMarket(seed=SEED, sol_usd=Decimal("150"))
    server = LocalnetServer(market).start()
    try:
        for name, value in server.engine_settings().items():
            setattr(settings, name, value)
        owner = User.objects.create(email="buyer@example.com", password=make_password(None))
        buyers = []
        for index in range(AGENTS):
            agent = agent_create(owner=owner, name=f"bench-buyer-{index:02d}")
            wallet = agent.wallets.get(mode="simulation")
            balance_deposit(wallet=wallet, amount=DEPOSIT_SOL)
            buyers.append((agent, wallet))
        turns = itertools.cycle(buyers)

        def new_token() -> str:
            return market.add_token(
                symbol=f"B{len(market.tokens()):04d}",
                price_sol=random_price(rng),
                decimals=6,
                liquidity_sol=Decimal(rng.randrange(500, 5_000, 10)),
            )

        def buy(mint: str) -> None:
            agent, wallet = next(turns)
            position_buy(
                agent=agent,
                wallet=wallet,
                token_address=mint,
                sol_amount=BUY_SOL,
                stop_loss_percent=STOP_LOSS,
            )

        for _ in range(WARMUP):
            buy(new_token())
        tokens = [new_token() for _ in range(ITERATIONS)]
        settle()
        whole, events = [], []
        with phase_clock(realtime, {"_send": "send"}) as sends:
            for mint in tokens:
                before = len(sends["send"])
                started = time.perf_counter()
                buy(mint)
                whole.append(time.perf_counter() - started)
                events.append(sum(sends["send"][before:]))

        venue = SimulatedVenue()
        quoted = []
        for _ in range(RECORD_ITERATIONS):
            mint = new_token()
            quoted.append((mint, venue.quote_buy(mint=mint, decimals=6, sol_amount=BUY_SOL)))
        settle()
        record = []
        for mint, quote in quoted:
            agent, wallet = next(turns)
            started = time.perf_counter()
            position_buy(
                agent=agent,
                wallet=wallet,
                token_address=mint,
                sol_amount=BUY_SOL,
                stop_loss_percent=STOP_LOSS,
                decimals=6,
                venue=_Quoted(quote),
            )
            record.append(time.perf_counter() - started)
        opened = Position.objects.filter(status="open").count()
    finally:
        server.stop()

    details = {
        "buy_sol": str(BUY_SOL),
        "warmup_buys": WARMUP,
        "agents": AGENTS,
        "open_positions_at_end": opened,
        "http_requests_per_buy": "2 (Jupiter Price for the new token's decimals, Jupiter quote)",
        "backend": "PostgreSQL + Redis (cache and channel layer); localnet in-process over HTTP",
    }
    return [
        Measurement(
            "buy_e2e",
            "position_buy of a fresh token: decimals + quote over HTTP, one DB transaction, events",
            whole,
            "ms",
            goal=GOAL_MILLISECONDS,
            details=details,
        ),
        Measurement(
            "buy_e2e.events",
            "of which the events sent after commit (position and balances), per buy",
            events,
            "ms",
        ),
        Measurement(
            "buy_e2e.record",
            "position_buy of a quote made beforehand (no HTTP): the transaction and the events",
            record,
            "ms",
        ),
    ]


class _Quoted:
    """A venue that hands back a quote made beforehand and fills it as the simulated venue
    does: position_buy without its HTTP."""

    def __init__(self, quote):
        from trading.venues import SimulatedVenue

        self.quote, self.fills = quote, SimulatedVenue()

    def quote_buy(self, **kwargs):
        return self.quote

    def execute(self, quote, *, action):
        return self.fills.execute(quote, action=action)


if __name__ == "__main__":
    child_main(run)
