"""The offline demo's market side: a stream of demo signals posted to the engine's API, and
scripted price paths on the local market, so a person sees positions open and close within a
minute with no internet. It reaches the engine by URL only, like any signal provider; the demo
agent and its API key are the engine's to prepare (`manage.py serve --demo`)."""

import itertools
import logging
import threading
from decimal import Decimal

import requests

from localnet.market import SyntheticMarket
from nexgent import money

logger = logging.getLogger(__name__)

SIGNAL_EVERY_SECONDS = 12
DEMO_TOKEN_PRICE_SOL = Decimal("0.0001")
# The token the README's API walkthrough signals: listed from the start of every demo, at a
# fixed mint (any valid public key), its price left alone so the position it opens stays open.
WALKTHROUGH_MINT = "25nPUUTe9L8LcVix7msbnhy6pSnbmTn45hDNC3QVVmCH"
WALKTHROUGH_SYMBOL = "WALK"
# Multiplicative price moves per second. Against the default config (fixed stop at -32%,
# trailing from +20%): a pump then dump sells at the trailing stop in profit, a dump hits the
# -32% stop, sideways stays open. A slow climb (+0.4% a second for 2.5 minutes, then a fade)
# is the momentum localnet's model opens for the demo's AI agent, first in line so its first
# cycles have something to buy; its fade takes the AI's position out at its stop.
PATHS = {
    "climb_then_fade": [Decimal("1.004")] * 150 + [Decimal("0.99")] * 60,
    "pump_then_dump": [Decimal("1.06")] * 6 + [Decimal("0.95")] * 40,
    "dump": [Decimal("0.96")] * 40,
    "sideways": [Decimal("1.01"), Decimal("0.99")] * 60,
}


def demo_market() -> SyntheticMarket:
    """The demo's local market: the walkthrough's token, and the demo driver's as it posts."""
    market = SyntheticMarket(seed=7)
    market.add_token(
        symbol=WALKTHROUGH_SYMBOL, price_sol=DEMO_TOKEN_PRICE_SOL, mint=WALKTHROUGH_MINT
    )
    return market


class DemoDriver:
    def __init__(self, market, *, engine_url: str, api_key: str, stdout=None):
        self.market = market
        self.engine_url = engine_url.rstrip("/")
        self.api_key = api_key
        self.stdout = stdout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nexgent-demo", daemon=True)
        self._scripts: dict[str, list[Decimal]] = {}
        self._path_names = itertools.cycle(PATHS)
        self._counter = itertools.count(1)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _say(self, text: str) -> None:
        if self.stdout is not None:
            self.stdout.write(text)

    def _run(self) -> None:
        try:
            ticks = 0
            while not self._stop.wait(1.0):
                self._advance_prices()
                if ticks % SIGNAL_EVERY_SECONDS == 0:
                    self._post_signal()
                ticks += 1
        except Exception:
            logger.exception("demo driver stopped")

    def _post_signal(self) -> None:
        number = next(self._counter)
        path = next(self._path_names)
        mint = self.market.add_token(
            symbol=f"DEMO{number}", price_sol=DEMO_TOKEN_PRICE_SOL, decimals=6
        )
        self._scripts[mint] = list(PATHS[path])
        try:
            response = requests.post(
                f"{self.engine_url}/api/v1/trading-signals",
                json={
                    "token_address": mint,
                    "signal_type": "BUY",
                    "signal_strength": 4,
                    "symbol": f"DEMO{number}",
                    "source": f"demo:{path}",
                },
                headers={"X-API-Key": self.api_key},
                timeout=5,
            )
            self._say(f"Demo: signal DEMO{number} ({path}) -> HTTP {response.status_code}")
        except requests.RequestException as exc:
            self._say(f"Demo: could not post a signal yet ({exc.__class__.__name__})")

    def _advance_prices(self) -> None:
        for mint, steps in list(self._scripts.items()):
            if not steps:
                del self._scripts[mint]
                continue
            factor = steps.pop(0)
            self.market.set_price(mint, money.price(self.market.price_sol(mint) * factor))
