"""`manage.py localnet`: serve the local market until Ctrl-C, for demos and manual testing."""

import time

from django.core.management.base import BaseCommand, CommandError

from localnet.market import SyntheticMarket
from localnet.serving import LocalnetServer
from nexgent.money import as_str


class Command(BaseCommand):
    help = "Serve local Jupiter, DexScreener, Pyth Hermes and Solana RPC over a synthetic market."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        # solana-test-validator's port: localnet is the local chain's stand-in.
        parser.add_argument("--port", type=int, default=8899)
        parser.add_argument("--seed", type=int, default=0, help="seed for mints and the walk")
        parser.add_argument("--tokens", type=int, default=5, help="demo tokens to list")
        parser.add_argument(
            "--walk",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="move prices by a random walk every SECONDS (0: prices stay put)",
        )

    def handle(self, *args, host, port, seed, tokens, walk, **options):
        if tokens < 0 or walk < 0:
            raise CommandError("--tokens and --walk cannot be negative")
        market = SyntheticMarket(seed=seed)
        market.add_demo_tokens(tokens)
        try:
            server = LocalnetServer(market, host=host, port=port)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
        with server:
            self._announce(server)
            self._run_until_interrupted(market, walk)
        self.stdout.write("localnet stopped")

    def _announce(self, server: LocalnetServer) -> None:
        self.stdout.write(f"localnet serving on {server.url}")
        self.stdout.write("Point the engine at it with:")
        for name, value in server.engine_settings().items():
            self.stdout.write(f"{name}={value}")
        for mint in server.market.tokens():
            token = server.market.token(mint)
            self.stdout.write(f"  {token.symbol:<8} {mint}  {as_str(token.price_sol)} SOL")
        self.stdout.write("Press Ctrl-C to stop.")
        self.stdout.flush()

    @staticmethod
    def _run_until_interrupted(market: SyntheticMarket, walk: float) -> None:
        try:
            while True:
                time.sleep(walk or 1.0)
                if walk:
                    market.step(walk)
        except KeyboardInterrupt:
            return
