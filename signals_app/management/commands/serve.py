"""Serve the engine: HTTP + WebSocket, and on the embedded default the task pool and beat too.

Lives in signals_app, the highest app it uses: with --demo it empties the demo's own database
(NEXGENT_DEMO=1, `make demo`) and prepares the demo operator, its agents (a simulated one with
its simulation funds, a live one with a keystore wallet funded on the local chain, and an AI
one whose strategist asks localnet's model) and an API key before the local market's demo
driver posts signals for them.
"""

import contextlib
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from solders.pubkey import Pubkey

from agents.models import Agent, TradingMode
from agents.services import DEMO_OPERATOR_EMAIL, agent_create, api_key_create, operator_create
from nexgent.celery import app as celery_app
from nexgent.tasks import EmbeddedBeat, shutdown_embedded_pool
from prices.hermes_stream import HermesStream
from signals_app.strategist_services import llm_credential_set
from trading.ledger_services import balance_deposit
from trading.reconcile_services import wallet_reconcile
from wallets.models import AgentWallet
from wallets.services import wallet_assign, wallet_create_live

# The model localnet serves (localnet.llm.MODEL_ID); named here, not imported: the engine
# reaches localnet by URL alone.
LOCALNET_MODEL = "localnet-strategist"

logger = logging.getLogger(__name__)

DEMO_AGENT_NAME = "Demo agent"
DEMO_FUNDS_SOL = Decimal(10)
DEMO_LIVE_AGENT_NAME = "Demo live agent"
DEMO_LIVE_AIRDROP_LAMPORTS = 10 * 10**9
DEMO_AI_AGENT_NAME = "Demo AI agent"
# localnet's model answers any non-empty key.
DEMO_LLM_KEY = "localnet-demo-key"
DEMO_AI_CONFIG = {
    "signals": {"decision_source": "ai"},
    "ai_strategist": {"period_minutes": 1, "max_position_sol": "0.5"},
}

# Gives `lamports` to the address on the local chain: localnet's faucet, as a test validator's.
Airdrop = Callable[[str, int], object]


class Command(BaseCommand):
    help = "Serve the engine and dashboard (embedded default: tasks and beat run in this process)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000, help="0: any free port")
        parser.add_argument(
            "--localnet",
            action="store_true",
            help="Start an in-process local market and point every market client at it.",
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="With --localnet, on the demo's database (NEXGENT_DEMO=1): empty it, then a "
            "demo operator, demo agents and a stream of demo signals.",
        )
        parser.add_argument("--log-level", default="warning")

    def handle(self, *args, host, port, localnet, demo, log_level, **options):
        if demo and not localnet:
            raise CommandError("--demo needs --localnet: the demo trades on the local market.")
        stack = []  # what to stop, in reverse order
        try:
            # Bound before anything is printed or started, so every line gives the address
            # actually served (the port the system chose, with --port 0).
            listener = _listen(host, port)
            stack.append(listener.close)
            url = _reachable_url(listener)
            if localnet:
                stack.append(self._start_localnet(demo=demo, base_url=url))
            # Stopped before the local market: a task in flight (a live swap waiting for its
            # confirmation) ends while the market it talks to still answers.
            stack.append(shutdown_embedded_pool)
            if settings.TASK_MODE == "embedded":
                # What the Procfile's `pricestream` process does in production.
                stack.append(self._start_price_stream())
                beat = EmbeddedBeat(celery_app)
                beat.start()
                stack.append(beat.stop)
            bound = "{}:{}".format(*listener.getsockname()[:2])
            listening = "" if url.endswith(f"//{bound}") else f"listening on {bound}, "
            self.stdout.write(
                self.style.SUCCESS(
                    f"Nexgent serving on {url}/  ({listening}tasks: {settings.TASK_MODE})"
                )
            )
            self.stdout.write(f"Log in at {url}/login/")
            config = uvicorn.Config("nexgent.asgi:application", lifespan="off", log_level=log_level)
            # Ctrl+C: uvicorn shuts down gracefully, then re-raises it; uvicorn.run says nothing.
            with contextlib.suppress(KeyboardInterrupt):
                uvicorn.Server(config).run(sockets=[listener])
        finally:
            for stop in reversed(stack):
                stop()

    def _start_price_stream(self):
        stream = HermesStream()
        threading.Thread(target=stream.run, name="nexgent-price-stream", daemon=True).start()
        return stream.stop

    def _start_localnet(self, *, demo: bool, base_url: str):
        # Imported only behind --localnet: the engine reaches the local market by URL alone.
        from localnet.demo import WALKTHROUGH_MINT, WALKTHROUGH_SYMBOL, DemoDriver, demo_market
        from localnet.market import SyntheticMarket
        from localnet.serving import LocalnetServer

        # The chain's slots pass in real time (localnet.svm.SLOT_SECONDS, 400 ms as mainnet's):
        # a live swap lands at the next slot and is confirmed one slot later.
        market = demo_market() if demo else SyntheticMarket(seed=7)
        server = LocalnetServer(market).start()
        for name, value in server.engine_settings().items():
            setattr(settings, name, value)
        self.stdout.write(f"Local market at {server.url} (every market client points at it)")
        driver = None
        try:
            if demo:
                prepared = demo_prepare(
                    airdrop=lambda address, lamports: market.chain.fund(
                        Pubkey.from_string(address), lamports
                    ),
                    llm_base_url=f"{server.url}/v1",
                )
                self._say_demo(prepared, base_url)
                self.stdout.write(
                    f"Demo: {WALKTHROUGH_SYMBOL} {WALKTHROUGH_MINT} is listed for the "
                    "README's API walkthrough"
                )
                driver = DemoDriver(
                    market, engine_url=base_url, api_key=prepared.api_key, stdout=self.stdout
                )
                driver.start()
        except BaseException:
            server.stop()
            raise

        def stop():
            if driver is not None:
                driver.stop()
            server.stop()

        return stop

    def _say_demo(self, prepared: "DemoPrepared", base_url: str) -> None:
        self.stdout.write(
            self.style.SUCCESS("Demo operator (a new one each start: the demo's database is new):")
        )
        self.stdout.write(f"  email:    {DEMO_OPERATOR_EMAIL}")
        self.stdout.write(f"  password: {prepared.operator_password}")
        agents = [prepared.agent, prepared.live_agent]
        if prepared.ai_agent is not None:
            agents.append(prepared.ai_agent)
        for agent in agents:
            self.stdout.write(
                f"Demo: {agent.name} #{agent.pk} trading on {base_url}/agents/{agent.pk}/"
            )
        self.stdout.write(f"Demo: live wallet {prepared.live_wallet.address}")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _reachable_url(listener: socket.socket) -> str:
    """The address served, as a URL this machine reaches: a wildcard address (0.0.0.0, ::)
    is reached on the loopback."""
    host, port = listener.getsockname()[:2]
    if ipaddress.ip_address(host).is_unspecified:
        host = "::1" if listener.family == socket.AF_INET6 else "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass(frozen=True, slots=True)
class DemoPrepared:
    operator_password: str
    agent: Agent  # simulated
    live_agent: Agent
    live_wallet: AgentWallet
    api_key: str  # raw, for the demo signal stream
    ai_agent: Agent | None = None


def demo_prepare(*, airdrop: Airdrop, llm_base_url: str | None = None) -> DemoPrepared:
    """The demo, from an empty database: the local chain its live agent trades on lives in
    memory and is new on each start, and so is everything else of the demo; nothing of an
    earlier start is carried over, so nothing needs writing off. Only on the demo's own
    database (NEXGENT_DEMO=1): the real one is never emptied.

    The demo operator with a new password, the simulated agent with its funds, the live agent
    with a new keystore wallet funded by an airdrop on the local chain (recorded by reconcile
    as a DEPOSIT, as SOL sent to any live wallet is) and a signals API key for the demo
    stream. With `llm_base_url` (localnet's model), an AI agent too, whose strategist takes
    the demo stream's tokens as candidates."""
    if not settings.DEMO:
        raise CommandError(
            "--demo empties its database at each start, so it runs only on the demo's own "
            "(NEXGENT_DEMO=1, as `make demo` sets)."
        )
    call_command("flush", interactive=False, verbosity=0)
    owner, password = operator_create(email=DEMO_OPERATOR_EMAIL)
    agent = agent_create(owner=owner, name=DEMO_AGENT_NAME)
    balance_deposit(wallet=agent.wallets.get(mode=TradingMode.SIMULATION), amount=DEMO_FUNDS_SOL)
    live_agent = agent_create(
        owner=owner,
        name=DEMO_LIVE_AGENT_NAME,
        trading_mode=TradingMode.LIVE,
        automated_trading_live=True,
    )
    live_wallet = wallet_assign(wallet=wallet_create_live(owner=owner), agent=live_agent)
    airdrop(live_wallet.address, DEMO_LIVE_AIRDROP_LAMPORTS)
    wallet_reconcile(wallet=live_wallet)
    _, raw_key = api_key_create(owner=owner, name="demo signal stream", scopes=["signals"])
    ai_agent = None
    if llm_base_url:
        llm_credential_set(
            owner=owner, base_url=llm_base_url, model=LOCALNET_MODEL, api_key=DEMO_LLM_KEY
        )
        ai_agent = agent_create(owner=owner, name=DEMO_AI_AGENT_NAME, config=DEMO_AI_CONFIG)
        balance_deposit(
            wallet=ai_agent.wallets.get(mode=TradingMode.SIMULATION), amount=DEMO_FUNDS_SOL
        )
    close_old_connections()
    return DemoPrepared(password, agent, live_agent, live_wallet, raw_key, ai_agent)
