"""The synthetic market behind localnet: tokens, their pools, prices, and the knobs tests turn.

Prices and amounts are Decimal. Pool arithmetic runs on Fraction, so a quote's integer amount is
the exact floor (or ceiling) of the constant-product formula whatever the thread's Decimal
context is. One lock guards all state: the HTTP server's threads and a test's thread drive the
market at the same time.
"""

import hashlib
import math
import random
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import NamedTuple

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from localnet.llm import StrategistModel
from localnet.notify_sink import NotifySink
from localnet.stream import HermesStreamControl
from localnet.svm import Chain, SlotClock
from nexgent.money import SOL_DECIMALS, WSOL_MINT, to_decimal

SERVICES = frozenset(
    {
        "jupiter_quote",
        "jupiter_swap",
        "jupiter_ultra",
        "jupiter_price",
        "dexscreener",
        "hermes",
        "solana_rpc",
        "llm",
    }
)

# Raydium's constant-product pools keep 0.25% of the input; Jupiter's outAmount is after AMM fees.
POOL_FEE_BPS = 25
# Below this much SOL in its pool a token has no route and no reliable price on Jupiter.
ROUTABLE_LIQUIDITY_SOL = Decimal(1)
RUGGED_LIQUIDITY_SOL = Decimal("0.5")
MAIN_POOL_DEX = "raydium"
MAIN_POOL_LABEL = "Raydium"

# Documented per-minute limits that the real services enforce on every client.
RATE_LIMITS = {"dexscreener": (300, 60.0)}

# A pool account holds this many times its token's reserve in the model when it is listed:
# quotes follow the model, whose token reserve grows as the price falls, and the pool on chain
# must still be able to pay them.
POOL_FUNDING_FACTOR = 10
U64_MAX = 2**64 - 1
# Issued quotes remembered so that /swap only builds transactions for quotes it gave, and
# Ultra orders kept for /execute; the oldest are forgotten.
ISSUED_QUOTES_KEPT = 10_000
ORDERS_KEPT = 10_000
# One-sigma move of a token price per second of random walk, in basis points.
WALK_VOLATILITY_BPS = 300
WALK_MAX_MOVE_BPS = 5_000
PRICE_DIGITS = 12
# Enough for a busy demo day of polling, bounded so a long-running localnet does not grow.
REQUEST_LOG_SIZE = 10_000
BPS = 10_000


class QuoteError(Exception):
    """No quote: the server answers 400 with Jupiter's error body."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def _no_route() -> QuoteError:
    return QuoteError("Could not find any route", "COULD_NOT_FIND_ANY_ROUTE")


@dataclass(frozen=True, slots=True)
class Token:
    mint: str
    symbol: str
    name: str
    decimals: int
    price_sol: Decimal
    liquidity_sol: Decimal
    listing_price_sol: Decimal
    listed_at: datetime

    @property
    def routable(self) -> bool:
        return self.liquidity_sol >= ROUTABLE_LIQUIDITY_SOL


class RecordedRequest(NamedTuple):
    service: str
    path: str
    query: dict[str, list[str]]  # as urllib.parse.parse_qs gives it: every value is a list


class Fault(NamedTuple):
    """An answer to give instead of data: an error status (a 429 or 503 may carry Retry-After),
    or a 200 whose body is not valid JSON. `path`: only requests whose path ends with it (one
    endpoint of a service). `after`: the request is served first and only its answer is lost,
    as when a gateway times out on an upstream that went on to act."""

    status: int
    retry_after: int | None = None
    malformed: bool = False
    path: str | None = None
    after: bool = False


class Disturbance(NamedTuple):
    """What the server must do to a request before answering it normally."""

    delay: float
    fault: Fault | None


def _quote_key(quote: dict) -> tuple:
    return tuple(
        str(quote.get(name))
        for name in (
            "inputMint",
            "outputMint",
            "inAmount",
            "outAmount",
            "otherAmountThreshold",
            "swapMode",
            "slippageBps",
        )
    )


def pool_address(mint: str, dex: str) -> str:
    """A stable pool address per (token, dex), shared by Jupiter's ammKey and DexScreener."""
    return str(Pubkey(hashlib.sha256(f"{dex}:{mint}".encode()).digest()))


def significant(value: Decimal, digits: int = PRICE_DIGITS) -> Decimal:
    """Rounded to a fixed number of significant digits, so repeated walks do not grow digits."""
    with localcontext(prec=digits):
        return +value


def _decimal(name: str, value) -> Decimal:
    """A finite Decimal from a Decimal, int or numeric string; floats are refused as in money."""
    try:
        number = to_decimal(value)
    except (ArithmeticError, TypeError) as exc:
        raise ValueError(f"{name} must be a decimal number, got {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _positive(name: str, value) -> Decimal:
    number = _decimal(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return number


def _non_negative(name: str, value) -> Decimal:
    number = _decimal(name, value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


class _Pool(NamedTuple):
    """One side of a token's SOL pool, oriented for a trade: reserves in whole units."""

    reserve_in: Fraction
    reserve_out: Fraction
    decimals_in: int
    decimals_out: int

    @classmethod
    def for_trade(cls, token: Token, *, selling: bool) -> "_Pool":
        sol = Fraction(token.liquidity_sol)
        tokens = sol / Fraction(token.price_sol)
        if selling:
            return cls(tokens, sol, token.decimals, SOL_DECIMALS)
        return cls(sol, tokens, SOL_DECIMALS, token.decimals)


_FEE_KEPT = Fraction(BPS - POOL_FEE_BPS, BPS)


def _exact_in(pool: _Pool, amount_in: int) -> tuple[int, int, Fraction]:
    """(inAmount, outAmount, price impact) for a fixed raw input: x*y=k on the input net of fee."""
    net_in = Fraction(amount_in, 10**pool.decimals_in) * _FEE_KEPT
    out = pool.reserve_out * net_in / (pool.reserve_in + net_in)
    return amount_in, math.floor(out * 10**pool.decimals_out), net_in / (pool.reserve_in + net_in)


def _exact_out(pool: _Pool, amount_out: int) -> tuple[int, int, Fraction]:
    """(inAmount, outAmount, price impact) for a fixed raw output; the pool cannot be drained."""
    out = Fraction(amount_out, 10**pool.decimals_out)
    if out >= pool.reserve_out:
        raise _no_route()
    net_in = pool.reserve_in * out / (pool.reserve_out - out)
    amount_in = math.ceil(net_in / _FEE_KEPT * 10**pool.decimals_in)
    return amount_in, amount_out, net_in / (pool.reserve_in + net_in)


def _ratio_string(ratio: Fraction) -> str:
    """Jupiter's priceImpactPct: a plain decimal ratio string such as "0.0123"."""
    with localcontext(prec=40):
        text = format(
            (Decimal(ratio.numerator) / ratio.denominator).quantize(Decimal("1e-12")), "f"
        )
    return text.rstrip("0").rstrip(".") or "0"


class SyntheticMarket:
    def __init__(
        self,
        seed: int = 0,
        sol_usd: Decimal = Decimal("150"),
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._lock = threading.Lock()
        # Separate streams so a token's mint does not depend on how many walk steps came first.
        self._mint_rng = random.Random(f"{seed}:mints")
        self._walk_rng = random.Random(f"{seed}:walk")
        self._clock = clock
        self._seed = seed
        self.slot_clock = SlotClock(clock=clock)
        self._chain: Chain | None = None
        self._issued_quotes: dict[tuple, None] = {}
        self._orders: dict[str, object] = {}
        self._latency: dict[str, float] = {}
        self._sol_usd = self._opening_sol_usd = _positive("sol_usd", sol_usd)
        self._tokens: dict[str, Token] = {}
        # DexScreener token boosts: (mint, amount) in the order they were bought.
        self._boosts: list[tuple[str, int]] = []
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._delays: defaultdict[str, deque[float]] = defaultdict(deque)
        self._admitted: defaultdict[str, deque[float]] = defaultdict(deque)
        self._requests: deque[RecordedRequest] = deque(maxlen=REQUEST_LOG_SIZE)
        self._served: Counter[str] = Counter()
        self._api_keys: dict[str, str] = {}
        self._publish_lag = 0
        self.hermes_stream = HermesStreamControl()
        self.llm = StrategistModel()
        # Where the engine's notifications arrive (json:// URLs), for the tests to read.
        self.notify_sink = NotifySink()

    # Tokens and prices

    def add_token(
        self,
        *,
        symbol: str,
        price_sol: Decimal,
        decimals: int = 6,
        liquidity_sol: Decimal = Decimal("500"),
        mint: str | None = None,
        name: str | None = None,
    ) -> str:
        price_sol = _positive("price_sol", price_sol)
        liquidity_sol = _non_negative("liquidity_sol", liquidity_sol)
        if not 0 <= decimals <= 18:
            raise ValueError(f"decimals must be within 0..18, got {decimals}")
        if mint is not None:
            mint = str(Pubkey.from_string(mint))
        with self._lock:
            mint = self._insert(symbol, name, decimals, price_sol, liquidity_sol, mint)
        self._list_on_chain(mint)
        return mint

    def _insert(self, symbol, name, decimals, price_sol, liquidity_sol, mint) -> str:
        """Adds a validated token; the caller holds the lock."""
        # Real mints are ed25519 public keys; derive one from the seeded stream for repeatability.
        mint = mint or str(Keypair.from_seed(self._mint_rng.randbytes(32)).pubkey())
        if mint in self._tokens or mint == WSOL_MINT:
            raise ValueError(f"token {mint} already exists")
        self._tokens[mint] = Token(
            mint=mint,
            symbol=symbol,
            name=name or symbol,
            decimals=decimals,
            price_sol=price_sol,
            liquidity_sol=liquidity_sol,
            listing_price_sol=price_sol,
            listed_at=datetime.now(UTC),
        )
        return mint

    def add_demo_tokens(self, count: int) -> list[str]:
        """`count` tokens with memecoin-like prices and pool depths, drawn from the seed."""
        with self._lock:
            mints = [self._insert_demo_token() for _ in range(count)]
        for mint in mints:
            self._list_on_chain(mint)
        return mints

    def _insert_demo_token(self) -> str:
        price = Decimal(self._mint_rng.randint(100, 999)).scaleb(-self._mint_rng.randint(4, 8))
        liquidity = Decimal(self._mint_rng.randrange(50, 2_000, 10))
        symbol = f"DEMO{len(self._tokens) + 1}"
        return self._insert(symbol, None, 6, price, liquidity, None)

    def tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def token(self, mint: str) -> Token:
        """A snapshot of the token; KeyError for a mint the market does not list."""
        with self._lock:
            return self._tokens[mint]

    def boost(self, mint: str, amount: int = 10) -> None:
        """Someone bought a DexScreener boost of `amount` for the token (it must exist)."""
        if amount <= 0:
            raise ValueError(f"a boost amount must be positive, got {amount}")
        with self._lock:
            if mint not in self._tokens:
                raise KeyError(mint)
            self._boosts.append((mint, amount))

    def boosts(self) -> list[tuple[str, int, int]]:
        """(mint, latest amount, total amount) of every boosted token, latest boost first."""
        with self._lock:
            boosts = list(self._boosts)
        totals: dict[str, int] = defaultdict(int)
        for mint, amount in boosts:
            totals[mint] += amount
        latest: dict[str, int] = {}
        for mint, amount in reversed(boosts):
            latest.setdefault(mint, amount)
        return [(mint, amount, totals[mint]) for mint, amount in latest.items()]

    def lookup(self, mints: Iterable[str]) -> dict[str, Token]:
        """The known tokens among `mints`, read under one lock so a batch answer is consistent."""
        with self._lock:
            return {mint: self._tokens[mint] for mint in mints if mint in self._tokens}

    def price_sol(self, mint: str) -> Decimal:
        return self.token(mint).price_sol

    def set_price(self, mint: str, price_sol: Decimal) -> None:
        self._update(mint, price_sol=_positive("price_sol", price_sol))

    def set_liquidity(self, mint: str, liquidity_sol: Decimal) -> None:
        self._update(mint, liquidity_sol=_non_negative("liquidity_sol", liquidity_sol))

    def rug(self, mint: str) -> None:
        """The deployer pulls the liquidity. Withdrawing both reserves pro rata leaves the price
        where it was; what changes is that the pool is too shallow to route or to price."""
        self.set_liquidity(mint, RUGGED_LIQUIDITY_SOL)

    def _update(self, mint: str, **changes) -> None:
        with self._lock:
            self._tokens[mint] = replace(self._tokens[mint], **changes)

    def sol_usd(self) -> Decimal:
        with self._lock:
            return self._sol_usd

    def set_sol_usd(self, price: Decimal) -> None:
        with self._lock:
            self._sol_usd = _positive("sol_usd", price)

    def set_publish_lag(self, seconds: int) -> None:
        """Hermes answers with prices published `seconds` ago: what a Pyth publisher outage
        looks like from the outside (the service is up, its prices are old)."""
        if seconds < 0:
            raise ValueError(f"a publish lag cannot be negative, got {seconds}")
        with self._lock:
            self._publish_lag = int(seconds)

    def publish_lag(self) -> int:
        with self._lock:
            return self._publish_lag

    def opening_sol_usd(self) -> Decimal:
        """SOL/USD when the market opened: the reference for SOL's 24 h change."""
        return self._opening_sol_usd

    def step(self, seconds: float = 1.0) -> None:
        """Move every token price by a seeded random walk; volatility scales with sqrt(time)."""
        sigma = WALK_VOLATILITY_BPS * math.sqrt(seconds)
        with self._lock:
            for mint, token in self._tokens.items():
                move = round(self._walk_rng.gauss(0, sigma))
                move = max(-WALK_MAX_MOVE_BPS, min(WALK_MAX_MOVE_BPS, move))
                price = significant(token.price_sol * (BPS + move) / BPS)
                self._tokens[mint] = replace(token, price_sol=price)

    def slot(self) -> int:
        """The chain's current slot, advancing in real time like mainnet's ~400 ms slots."""
        return self.slot_clock.slot()

    # The chain

    @property
    def chain(self) -> Chain:
        """The market's Solana VM, made on first use (it costs tens of milliseconds, and most
        uses of the market never touch it) with every token listed so far."""
        with self._lock:
            if self._chain is None:
                chain = Chain(self.slot_clock, seed=self._seed)
                for token in self._tokens.values():
                    self._list_token(chain, token)
                self._chain = chain
            return self._chain

    def _list_on_chain(self, mint: str) -> None:
        with self._lock:
            chain, token = self._chain, self._tokens[mint]
        if chain is not None:
            self._list_token(chain, token)

    @staticmethod
    def _list_token(chain: Chain, token: Token) -> None:
        pool = _Pool.for_trade(token, selling=False)
        tokens = math.floor(pool.reserve_out * 10**token.decimals) * POOL_FUNDING_FACTOR
        lamports = math.floor(pool.reserve_in * 10**SOL_DECIMALS) * POOL_FUNDING_FACTOR
        chain.list_token(
            Pubkey.from_string(token.mint),
            decimals=token.decimals,
            pool_tokens=min(tokens, U64_MAX),
            pool_lamports=lamports,
        )

    def set_slot_time(self, seconds: float | None) -> None:
        """Slots pass every `seconds` from now on (None: only when advanced by hand)."""
        self.slot_clock.set_slot_seconds(seconds)

    def still_fills(
        self, input_mint: str, output_mint: str, amount: int, swap_mode: str, threshold: int
    ) -> bool:
        """Whether the pool, at today's price, still fills a swap within its quote's bound: the
        minimum-out check of a swap as it executes."""
        try:
            quote = self.quote(input_mint, output_mint, amount, 0, swap_mode, remember=False)
        except QuoteError:
            return False
        if swap_mode == "ExactIn":
            return int(quote["outAmount"]) >= threshold
        return int(quote["inAmount"]) <= threshold

    def remember_order(self, request_id: str, order: object) -> None:
        """Keep an Ultra order (opaque here) for its /execute."""
        with self._lock:
            self._orders[request_id] = order
            if len(self._orders) > ORDERS_KEPT:
                del self._orders[next(iter(self._orders))]

    def order(self, request_id: str) -> object | None:
        with self._lock:
            return self._orders.get(request_id)

    def quote_issued(self, quote: dict) -> bool:
        """Whether this quote (its mints, amounts and bound) is one the market gave."""
        with self._lock:
            return _quote_key(quote) in self._issued_quotes

    # Jupiter quotes

    def quote(
        self,
        input_mint: str,
        output_mint: str,
        amount: int,
        slippage_bps: int = 50,
        swap_mode: str = "ExactIn",
        *,
        remember: bool = True,
    ) -> dict:
        """A Metis v1 QuoteResponse from the token's SOL pool. The pool does not move; the quote
        is remembered (unless told not to) so that a swap can be built from it."""
        started = time.perf_counter()
        if amount < 0:
            raise ValueError(f"amount must not be negative, got {amount}")
        if input_mint == output_mint:
            raise QuoteError("Circular arbitrage is disabled", "CIRCULAR_ARBITRAGE_IS_DISABLED")
        token = self._routable_token(input_mint, output_mint)
        pool = _Pool.for_trade(token, selling=input_mint == token.mint)
        if swap_mode == "ExactIn":
            in_amount, out_amount, impact = _exact_in(pool, amount)
            threshold = out_amount - out_amount * slippage_bps // BPS
        elif swap_mode == "ExactOut":
            in_amount, out_amount, impact = _exact_out(pool, amount)
            threshold = in_amount + in_amount * slippage_bps // BPS
        else:
            raise ValueError(f"unknown swap mode {swap_mode!r}")
        quote = {
            "inputMint": input_mint,
            "inAmount": str(in_amount),
            "outputMint": output_mint,
            "outAmount": str(out_amount),
            "otherAmountThreshold": str(threshold),
            "swapMode": swap_mode,
            "slippageBps": slippage_bps,
            "platformFee": None,
            "priceImpactPct": _ratio_string(impact),
            "routePlan": [
                {
                    "swapInfo": {
                        "ammKey": pool_address(token.mint, MAIN_POOL_DEX),
                        "label": MAIN_POOL_LABEL,
                        "inputMint": input_mint,
                        "outputMint": output_mint,
                        "inAmount": str(in_amount),
                        "outAmount": str(out_amount),
                    },
                    "percent": 100,
                }
            ],
            "contextSlot": self.slot(),
            "timeTaken": time.perf_counter() - started,
        }
        if remember:
            with self._lock:
                self._issued_quotes[_quote_key(quote)] = None
                if len(self._issued_quotes) > ISSUED_QUOTES_KEPT:
                    del self._issued_quotes[next(iter(self._issued_quotes))]
        return quote

    def _routable_token(self, input_mint: str, output_mint: str) -> Token:
        """The token of a SOL pair; the synthetic market has no token-to-token routes."""
        if WSOL_MINT not in (input_mint, output_mint):
            raise _no_route()
        mint = output_mint if input_mint == WSOL_MINT else input_mint
        token = self.lookup([mint]).get(mint)
        if token is None or not token.routable:
            raise _no_route()
        return token

    # Faults, rate limits and the request log

    def inject_fault(
        self,
        service: str,
        *,
        status: int,
        count: int = 1,
        retry_after: int | None = None,
        path: str | None = None,
        after: bool = False,
    ) -> None:
        """The next `count` requests to `service` (to its endpoint ending in `path`, if given)
        answer `status` instead of data, with a Retry-After header of `retry_after` seconds if
        given; with `after`, each is served first and only its answer is replaced."""
        self._check_service(service)
        if not 400 <= status <= 599:
            raise ValueError(f"a fault status must be 4xx or 5xx, got {status}")
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after cannot be negative, got {retry_after}")
        fault = Fault(status, retry_after, path=path, after=after)
        with self._lock:
            self._faults[service].extend([fault] * count)

    def inject_malformed(self, service: str, count: int = 1) -> None:
        """The next `count` requests to `service` answer 200 with a body cut off mid-JSON."""
        self._check_service(service)
        with self._lock:
            self._faults[service].extend([Fault(200, malformed=True)] * count)

    def clear_faults(self, service: str | None = None) -> None:
        """Forget pending faults and delays (of one service, or all), and standing latencies."""
        with self._lock:
            for queues in (self._faults, self._delays):
                for name in [service] if service is not None else list(queues):
                    queues[name].clear()
            if service is None:
                self._latency.clear()
            else:
                self._latency.pop(service, None)

    def set_latency(self, service: str, seconds: float) -> None:
        """Every request to `service` waits `seconds` from now on (0 lifts it): the round trip
        of a real service, for benchmarks; a queued inject_delay takes its place once."""
        self._check_service(service)
        if seconds < 0:
            raise ValueError(f"a latency cannot be negative, got {seconds}")
        with self._lock:
            self._latency[service] = seconds

    def inject_delay(self, service: str, seconds: float, count: int = 1) -> None:
        """The next `count` requests to `service` wait `seconds` first, to trip client timeouts."""
        self._check_service(service)
        if seconds < 0:
            raise ValueError(f"a delay cannot be negative, got {seconds}")
        with self._lock:
            self._delays[service].extend([seconds] * count)

    def require_api_key(self, service: str, key: str | None) -> None:
        """Requests to `service` need this key from now on (None lifts the requirement)."""
        self._check_service(service)
        with self._lock:
            if key is None:
                self._api_keys.pop(service, None)
            else:
                self._api_keys[service] = key

    def key_accepted(self, service: str, presented: str | None) -> bool:
        with self._lock:
            required = self._api_keys.get(service)
        return required is None or presented == required

    @staticmethod
    def _check_service(service: str) -> None:
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}; expected one of {sorted(SERVICES)}")

    def admit(self, service: str, path: str, query: dict[str, list[str]]) -> Disturbance:
        """Record a request and say how to disturb it: pending delay, fault, or rate limit."""
        with self._lock:
            self._requests.append(RecordedRequest(service, path, query))
            delays, faults = self._delays[service], self._faults[service]
            delay = delays.popleft() if delays else self._latency.get(service, 0.0)
            fault = next((f for f in faults if f.path is None or path.endswith(f.path)), None)
            if fault is not None:
                faults.remove(fault)
            if fault is None and not self._within_rate_limit(service):
                fault = Fault(429)
            return Disturbance(delay, fault)

    def _within_rate_limit(self, service: str) -> bool:
        """A sliding window over admitted requests; refused ones do not use up the budget."""
        if service not in RATE_LIMITS:
            return True
        limit, window = RATE_LIMITS[service]
        now = self._clock()
        admitted = self._admitted[service]
        while admitted and admitted[0] <= now - window:
            admitted.popleft()
        if len(admitted) >= limit:
            return False
        admitted.append(now)
        return True

    def recorded(self, service: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if service is None or r.service == service]

    def clear_recorded(self) -> None:
        with self._lock:
            self._requests.clear()
            self._served.clear()

    def note_served(self, service: str, seconds: float) -> None:
        """A request to `service` took `seconds` from its arrival to its answer (an injected
        latency included): time spent outside the client that sent it."""
        with self._lock:
            self._served[service] += seconds

    def served_seconds(self) -> dict[str, float]:
        """Seconds each service spent answering since the last clear_recorded (a streaming
        answer counts until its first frame is ready, not while it streams)."""
        with self._lock:
            return dict(self._served)
