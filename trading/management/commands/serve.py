"""Serve the engine: HTTP + WebSocket, and on the embedded default the task pool and beat too.

Lives in trading, the highest app it uses: with --demo it prepares the demo agents (a
simulated one with its simulation funds, a live one with a keystore wallet funded on the local
chain) and an API key before the local market's demo driver posts signals for them.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from solders.pubkey import Pubkey

from agents.management.commands.ensure_demo_operator import DEMO_EMAIL
from agents.models import Agent, TradingMode, User
from agents.services import agent_create, api_key_create
from nexgent.celery import app as celery_app
from nexgent.tasks import EmbeddedBeat, shutdown_embedded_pool
from prices.hermes_stream import HermesStream
from trading.ledger_services import balance_deposit
from trading.models import Position, PositionStatus
from trading.reconcile_services import wallet_reconcile
from trading.selectors import sol_balance
from trading.services import position_write_off
from trading.wallet_services import wallet_reset, wallet_unassign
from wallets.models import AgentWallet
from wallets.services import wallet_assign, wallet_create_live

logger = logging.getLogger(__name__)

DEMO_AGENT_NAME = "Demo agent"
DEMO_FUNDS_SOL = Decimal(10)
DEMO_LIVE_AGENT_NAME = "Demo live agent"
DEMO_LIVE_AIRDROP_LAMPORTS = 10 * 10**9

# Gives `lamports` to the address on the local chain: localnet's faucet, as a test validator's.
Airdrop = Callable[[str, int], object]


class Command(BaseCommand):
    help = "Serve the engine and dashboard (embedded default: tasks and beat run in this process)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--localnet",
            action="store_true",
            help="Start an in-process local market and point every market client at it.",
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="With --localnet: a demo agent and a stream of demo signals.",
        )
        parser.add_argument("--log-level", default="warning")

    def handle(self, *args, host, port, localnet, demo, log_level, **options):
        stack = []
        if localnet:
            stack.append(self._start_localnet(demo=demo, base_url=f"http://{host}:{port}"))
        beat = None
        if settings.TASK_MODE == "embedded":
            beat = EmbeddedBeat(celery_app)
            beat.start()
            # What the Procfile's `pricestream` process does in production.
            stack.append(self._start_price_stream())
        self.stdout.write(
            self.style.SUCCESS(
                f"Nexgent serving on http://{host}:{port}/  (tasks: {settings.TASK_MODE})"
            )
        )
        try:
            uvicorn.run(
                "nexgent.asgi:application",
                host=host,
                port=port,
                lifespan="off",
                log_level=log_level,
            )
        finally:
            if beat is not None:
                beat.stop()
            shutdown_embedded_pool(wait=False)
            for stop in reversed(stack):
                stop()

    def _start_price_stream(self):
        stream = HermesStream()
        threading.Thread(target=stream.run, name="nexgent-price-stream", daemon=True).start()
        return stream.stop

    def _start_localnet(self, *, demo: bool, base_url: str):
        # Imported only behind --localnet: the engine reaches the local market by URL alone.
        from localnet.demo import DemoDriver
        from localnet.market import SyntheticMarket
        from localnet.serving import LocalnetServer

        # The chain's slots pass in real time (localnet.svm.SLOT_SECONDS, 400 ms as mainnet's):
        # a live swap lands at the next slot and is confirmed one slot later.
        market = SyntheticMarket(seed=7)
        server = LocalnetServer(market).start()
        for name, value in server.engine_settings().items():
            setattr(settings, name, value)
        self.stdout.write(f"Local market at {server.url} (every market client points at it)")
        driver = None
        if demo:
            prepared = demo_prepare(
                airdrop=lambda address, lamports: market.chain.fund(
                    Pubkey.from_string(address), lamports
                )
            )
            for agent in (prepared.agent, prepared.live_agent):
                self.stdout.write(
                    f"Demo: {agent.name} #{agent.pk} trading on {base_url}/agents/{agent.pk}/"
                )
            self.stdout.write(
                f"Demo: live wallet {prepared.live_wallet.address} (fresh on this start's chain)"
            )
            driver = DemoDriver(
                market, engine_url=base_url, api_key=prepared.api_key, stdout=self.stdout
            )
            driver.start()

        def stop():
            if driver is not None:
                driver.stop()
            server.stop()

        return stop


@dataclass(frozen=True, slots=True)
class DemoPrepared:
    agent: Agent  # simulated
    live_agent: Agent
    live_wallet: AgentWallet
    api_key: str  # raw, for the demo signal stream


def demo_prepare(*, airdrop: Airdrop) -> DemoPrepared:
    """The demo operator's demo agents and a new signals API key for the demo stream: the
    simulated agent, funded, and the live agent with a fresh live wallet (`demo_live_wallet`).
    Agents are found by name, so a second start reuses them."""
    owner = User.objects.get(email=DEMO_EMAIL)
    agent = _demo_agent(owner, DEMO_AGENT_NAME)
    wallet = agent.wallets.get(mode=TradingMode.SIMULATION)
    if sol_balance(wallet.pk) < DEMO_FUNDS_SOL / 2:
        balance_deposit(wallet=wallet, amount=DEMO_FUNDS_SOL)
    live_agent = _demo_agent(
        owner, DEMO_LIVE_AGENT_NAME, trading_mode=TradingMode.LIVE, automated_trading_live=True
    )
    live_wallet = demo_live_wallet(agent=live_agent, airdrop=airdrop)
    _, raw_key = api_key_create(owner=owner, name="demo signal stream", scopes=["signals"])
    close_old_connections()
    return DemoPrepared(agent, live_agent, live_wallet, raw_key)


def demo_live_wallet(*, agent: Agent, airdrop: Airdrop) -> AgentWallet:
    """A fresh live wallet for the live demo agent, funded by an airdrop on the local chain and
    recorded by reconcile as a DEPOSIT, as SOL sent to any live wallet is.

    The local chain lives in memory and starts empty on every start, so the wallet of an earlier
    start no longer matches any chain: it is retired. Its open positions are written off (their
    tokens went with that chain), its ledger is reset and it is unassigned; its key stays in the
    keystore, as an unassigned wallet's does. On this start's chain it holds nothing and its
    ledger says so: reconcile finds no drift in it."""
    for old in AgentWallet.objects.filter(agent=agent, mode=TradingMode.LIVE):
        open_positions = Position.objects.filter(wallet=old, status=PositionStatus.OPEN)
        for position_id in open_positions.values_list("pk", flat=True):
            position_write_off(position_id=position_id)
        wallet_reset(wallet=old)
        wallet_unassign(wallet=old)
        logger.info(
            "demo: live wallet %s retired (its chain went with the last start)", old.address
        )
    wallet = wallet_assign(wallet=wallet_create_live(owner=agent.owner), agent=agent)
    airdrop(wallet.address, DEMO_LIVE_AIRDROP_LAMPORTS)
    wallet_reconcile(wallet=wallet)
    return wallet


def _demo_agent(owner: User, name: str, **fields) -> Agent:
    agent = Agent.objects.filter(owner=owner, name=name).first()
    return agent if agent is not None else agent_create(owner=owner, name=name, **fields)
