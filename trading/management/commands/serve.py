"""Serve the engine: HTTP + WebSocket, and on the embedded default the task pool and beat too.

Lives in trading, the highest app it uses: with --demo it prepares the demo agent (an agent,
its simulation funds, an API key) before the local market's demo driver posts signals for it.
"""

import logging
import threading
from decimal import Decimal

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from agents.management.commands.ensure_demo_operator import DEMO_EMAIL
from agents.models import Agent, User
from agents.services import agent_create, api_key_create
from nexgent.celery import app as celery_app
from nexgent.tasks import EmbeddedBeat, shutdown_embedded_pool
from prices.hermes_stream import HermesStream
from trading.selectors import sol_balance
from trading.services import balance_deposit

logger = logging.getLogger(__name__)

DEMO_AGENT_NAME = "Demo agent"
DEMO_FUNDS_SOL = Decimal(10)


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

        market = SyntheticMarket(seed=7)
        server = LocalnetServer(market).start()
        for name, value in server.engine_settings().items():
            setattr(settings, name, value)
        self.stdout.write(f"Local market at {server.url} (every market client points at it)")
        driver = None
        if demo:
            agent, api_key = demo_prepare()
            self.stdout.write(f"Demo: agent #{agent.pk} trading on {base_url}/agents/{agent.pk}/")
            driver = DemoDriver(market, engine_url=base_url, api_key=api_key, stdout=self.stdout)
            driver.start()

        def stop():
            if driver is not None:
                driver.stop()
            server.stop()

        return stop


def demo_prepare() -> tuple[Agent, str]:
    """The demo operator's demo agent, funded, and a new signals API key for the demo stream."""
    owner = User.objects.get(email=DEMO_EMAIL)
    agent = Agent.objects.filter(owner=owner, name=DEMO_AGENT_NAME).first()
    if agent is None:
        agent = agent_create(owner=owner, name=DEMO_AGENT_NAME)
    wallet = agent.wallets.get(mode="simulation")
    if sol_balance(wallet.pk) < DEMO_FUNDS_SOL / 2:
        balance_deposit(wallet=wallet, amount=DEMO_FUNDS_SOL)
    _, raw_key = api_key_create(owner=owner, name="demo signal stream", scopes=["signals"])
    close_old_connections()
    return agent, raw_key
