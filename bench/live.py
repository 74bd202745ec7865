"""What the live benchmarks share: a live agent trading on localnet's chain with the latencies of
real services injected, and clocks at the moments the benchmarks measure between.

The set-up: localnet in this process on 127.0.0.1 (LocalnetServer + SyntheticMarket), its
chain a real Solana VM (LiteSVM) whose slots pass every SLOT_SECONDS (400 ms, mainnet's pace):
a transaction lands at the next slot and is confirmed one slot later. Every request to Jupiter
Metis /quote waits 60 ms, to /swap 80 ms, to the Solana RPC 20 ms per call (LATENCY) before
localnet answers it. The live agent's wallet is a keystore wallet like any other, funded by an
airdrop and recorded by reconcile as a deposit; every trade goes through `trading.live`:
quote -> /swap -> sign -> record -> sendTransaction -> getSignatureStatuses polled every
LIVE_CONFIRM_POLL_SECONDS -> getTransaction -> the ledger. The database is PostgreSQL and the
cache Redis (bench.run).

How the engine's own share is told from the time spent outside it. Nothing of the engine is
replaced: `Moments` only notes when the engine enters a few of its own functions (the same
technique as bench.common.phase_clock). The external time is measured, not guessed: localnet
records every request it is sent and how long it took from its arrival to its answer, so each
measured span knows the requests made within it, by service, the injected latency they waited
(LATENCY per request of that service) and the time localnet spent answering them (`outside`:
the injected latency plus localnet's own work standing in for the real service's: building and
simulating a transaction on the SVM, a quote's arithmetic). For the span that waits on the
chain (from the sendTransaction to the poll that sees the swap confirmed) the chain's own part
is computed from the slot clock: the swap's landing slot, read back from the chain afterwards,
plus the confirmation depth, gives the moment the chain confirmed it; from then until the
engine's poll sees it is the confirmation lag, which the polling interval decides.

Two engine shares are reported. `.engine` is the span less the time the external services
spent answering (the engine's own time, its HTTP client and loopback included). `.engine_
counting_localnet` is the span less only the injected latency, so it also holds localnet's own
work: an upper bound, the issue's literal "total minus injected external time". The difference
between the two is what the fake itself costs, which a real service's latency already stands for.
"""

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

LATENCY = {"jupiter_quote": 0.060, "jupiter_swap": 0.080, "solana_rpc": 0.020}
SLOT_SECONDS = 0.4
# localnet.svm: a swap is confirmed this many slots after the one it landed in.
CONFIRMATION_DEPTH = 1
AIRDROP_LAMPORTS = 1_000 * 10**9
DECIMALS = 6
LIQUIDITY_SOL = Decimal("500")
PRICE_SOL = Decimal("0.001")
WAIT_TIMEOUT_SECONDS = 30


@dataclass
class Moment:
    label: str
    at: float  # time.monotonic(), the slot clock's clock
    requests: Counter  # localnet's requests by service so far (since the span began)
    served: dict  # seconds localnet's services spent answering them so far
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


class Moments:
    """Notes the moment the engine enters (or, `on_return`, leaves) some of its functions,
    with localnet's request count then. Used as a context manager; `clear()` between samples."""

    def __init__(self, market, points: list[tuple[object, str, str, bool]]):
        self.market = market
        self.points = points  # (module, function name, label, on_return)
        self.seen: list[Moment] = []
        self._lock = threading.Lock()
        self._originals: list[tuple[object, str, object]] = []

    def requests(self) -> Counter:
        return Counter(request.service for request in self.market.recorded())

    def note(self, label: str, *args, **kwargs) -> Moment:
        moment = Moment(
            label, time.monotonic(), self.requests(), self.market.served_seconds(), args, kwargs
        )
        with self._lock:
            self.seen.append(moment)
        return moment

    def clear(self) -> None:
        self.market.clear_recorded()
        with self._lock:
            self.seen = []

    def first(self, label: str, after: float = 0.0, **match) -> Moment:
        with self._lock:
            for moment in self.seen:
                if (
                    moment.label == label
                    and moment.at >= after
                    and all(moment.kwargs.get(key) == value for key, value in match.items())
                ):
                    return moment
        raise LookupError(f"no {label} noted")

    def __enter__(self) -> "Moments":
        for module, name, label, on_return in self.points:
            original = getattr(module, name)
            self._originals.append((module, name, original))
            setattr(module, name, self._clocked(original, label, on_return))
        return self

    def __exit__(self, *exc_info) -> None:
        for module, name, original in reversed(self._originals):
            setattr(module, name, original)
        self._originals = []

    def _clocked(self, function, label: str, on_return: bool):
        def wrapper(*args, **kwargs):
            if not on_return:
                self.note(label, *args, **kwargs)
                return function(*args, **kwargs)
            result = function(*args, **kwargs)
            self.note(label, *args, **kwargs)
            return result

        return wrapper


def injected(requests: Counter) -> float:
    """Seconds of injected latency the requests waited."""
    return sum(LATENCY.get(service, 0.0) * count for service, count in requests.items())


def between(later: Moment, earlier: Moment) -> Counter:
    return later.requests - earlier.requests


def outside(later: Moment, earlier: Moment) -> float:
    """Seconds the external services (localnet) spent answering the requests made between the
    two moments, from each request's arrival to its answer: the injected latency and
    localnet's own work standing in for the real service's."""
    return sum(
        seconds - earlier.served.get(service, 0.0) for service, seconds in later.served.items()
    )


@dataclass
class LiveRig:
    market: object
    server: object
    owner: object
    agent: object
    wallet: object
    # The slot clock's origin: slot `origin_slot` began at `origin_at` (time.monotonic()).
    origin_at: float
    origin_slot: int

    def slot_started_at(self, slot: int) -> float:
        return self.origin_at + (slot - self.origin_slot) * SLOT_SECONDS

    def confirmed_on_chain_at(self, signature: str) -> float:
        """When the chain confirmed the swap: the start of the slot CONFIRMATION_DEPTH after
        the one it landed in (read back from the chain, after the measurement)."""
        from solders.signature import Signature

        status = self.market.chain.status(Signature.from_string(signature))
        return self.slot_started_at(status["slot"] + CONFIRMATION_DEPTH)

    def new_token(self, number: int) -> str:
        return self.market.add_token(
            symbol=f"L{number:04d}",
            price_sol=PRICE_SOL,
            decimals=DECIMALS,
            liquidity_sol=LIQUIDITY_SOL,
        )

    def stop(self) -> None:
        self.server.stop()


def live_rig(*, seed: int, agent_config: dict | None = None) -> LiveRig:
    """Migrate, start localnet with the latencies, and make a live agent whose keystore wallet
    holds AIRDROP_LAMPORTS on chain and the same in its ledger (reconcile's deposit)."""
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from solders.pubkey import Pubkey

    from agents.models import User
    from agents.services import agent_create
    from localnet.market import SyntheticMarket
    from localnet.serving import LocalnetServer
    from nexgent.celery import app
    from trading.reconcile_services import wallet_reconcile
    from wallets.services import wallet_assign, wallet_create_live

    call_command("migrate", verbosity=0, interactive=False)
    # Every app's tasks registered, as a worker does at start (a live trade queues a reconcile).
    app.loader.import_default_modules()
    # A throwaway master key: the benchmark's wallet lives as long as its database.
    settings.WALLET_MASTER_KEY = secrets.token_hex(32)
    market = SyntheticMarket(seed=seed, sol_usd=Decimal("150"))
    server = LocalnetServer(market).start()
    for name, value in server.engine_settings().items():
        setattr(settings, name, value)
    owner = User.objects.create(email="live@example.com", password=make_password(None))
    agent = agent_create(
        owner=owner,
        name="bench-live",
        trading_mode="live",
        automated_trading_live=True,
        config=agent_config,
    )
    wallet = wallet_assign(wallet=wallet_create_live(owner=owner), agent=agent)
    market.chain.fund(Pubkey.from_string(wallet.address), AIRDROP_LAMPORTS)
    outcome = wallet_reconcile(wallet=wallet)
    if outcome.deposit is None:
        raise RuntimeError("reconcile recorded no deposit of the airdrop")
    for service, seconds in LATENCY.items():
        market.set_latency(service, seconds)
    before = time.monotonic()
    market.set_slot_time(SLOT_SECONDS)
    after = time.monotonic()
    return LiveRig(
        market=market,
        server=server,
        owner=owner,
        agent=agent,
        wallet=wallet,
        origin_at=(before + after) / 2,
        origin_slot=market.slot(),
    )


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def settings_details() -> dict:
    from django.conf import settings

    return {
        "injected_latency_ms": {service: s * 1000 for service, s in LATENCY.items()},
        "slot_ms": SLOT_SECONDS * 1000,
        "live_confirm_poll_seconds": str(settings.LIVE_CONFIRM_POLL_SECONDS),
        "live_resend_seconds": str(settings.LIVE_RESEND_SECONDS),
        "backend": "PostgreSQL + Redis; localnet (LiteSVM chain) in-process over HTTP",
    }
