"""Test-side tools for checking the ledger: the documented balance effects of Transaction rows,
the simulated fees recomputed from the settings, quotes read over HTTP, a fixed-fill venue and
a set of threads that race on the same call, round after round.

Nothing here uses the executor's own arithmetic: every expected figure is derived from the
rules in trading-rules.md section 7.
"""

import contextlib
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import requests
from django.conf import settings
from django.db import connection

from trading.models import Balance, ClosedTrade, Position, Transaction, TransactionType
from trading.venues import Fill, Quote, SimulatedVenue

WSOL = "So11111111111111111111111111111111111111112"
LAMPORTS_PER_SOL = 10**9
ZERO = Decimal(0)


def whole(raw: int, decimals: int) -> Decimal:
    """Raw on-chain units as whole units, exactly."""
    return Decimal(raw) / Decimal(10) ** decimals


def lamports(sol: Decimal) -> int:
    """Whole lamports in `sol`, rounded down (a swap never spends more than it was given)."""
    return int(sol * LAMPORTS_PER_SOL // 1)


def network_fee() -> Decimal:
    """Signature + prioritization + rent, in SOL, from the SIM_* settings."""
    total = (
        settings.SIM_SIGNATURE_FEE_LAMPORTS
        + settings.SIM_PRIORITY_FEE_LAMPORTS
        + settings.SIM_RENT_FEE_LAMPORTS
    )
    return whole(total, 9)


def protocol_fee(sol_side_lamports: int) -> Decimal:
    """fee_bps of the SOL side of a swap, in SOL (the simulated fee mint is wSOL)."""
    return whole(sol_side_lamports * settings.SIM_PROTOCOL_FEE_BPS, 9) / 10_000


def quote(localnet, input_mint: str, output_mint: str, amount: int) -> tuple[int, int]:
    """(inAmount, outAmount) the market answers for a swap, read over HTTP as any client would."""
    response = requests.get(
        f"{localnet.url}/swap/v1/quote",
        params={
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": str(amount),
            "slippageBps": "100",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return int(body["inAmount"]), int(body["outAmount"])


def balances(wallet) -> dict[str, Decimal]:
    """The wallet's Balance rows, by mint."""
    return dict(Balance.objects.filter(wallet=wallet).values_list("token_address", "amount"))


def balance(wallet, mint: str) -> Decimal:
    return balances(wallet).get(mint, ZERO)


def ledger_effects(wallet) -> dict[str, Decimal]:
    """Each mint's balance as the wallet's Transaction rows say it must be: DEPOSIT +input;
    WITHDRAWAL -input; SWAP -input +output; BURN and FEE -input."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    rows = Transaction.objects.filter(wallet=wallet).values_list(
        "type", "input_mint", "input_amount", "output_mint", "output_amount"
    )
    for kind, input_mint, input_amount, output_mint, output_amount in rows:
        if kind == TransactionType.DEPOSIT:
            totals[input_mint] += input_amount
        elif kind in (TransactionType.WITHDRAWAL, TransactionType.BURN, TransactionType.FEE):
            totals[input_mint] -= input_amount
        elif kind == TransactionType.SWAP:
            totals[input_mint] -= input_amount
            totals[output_mint] += output_amount
        else:  # pragma: no cover - a new type must say what it does to a balance
            raise AssertionError(f"unknown transaction type {kind}")
    return dict(totals)


def nonzero(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    return {mint: value for mint, value in amounts.items() if value != 0}


def check_swap_fees(entry: Transaction) -> None:
    """A swap's recorded fees are the SIM_* formula applied to its SOL side, which is a whole
    number of lamports: for a buy the SOL debited less both fees, for a sale the SOL credited
    plus both fees."""
    assert entry.type == TransactionType.SWAP
    fees = entry.protocol_fee_sol + entry.network_fee_sol
    if entry.input_mint == WSOL:
        sol_side = entry.input_amount - fees
    else:
        assert entry.output_mint == WSOL, entry
        sol_side = entry.output_amount + fees
    side_lamports = sol_side * LAMPORTS_PER_SOL
    assert side_lamports == int(side_lamports), f"SOL side {sol_side} is not whole lamports"
    assert entry.protocol_fee_sol == protocol_fee(int(side_lamports)), entry
    assert entry.network_fee_sol == network_fee(), entry


@dataclass
class Snapshot:
    """Everything a refused operation must leave untouched."""

    counts: tuple[int, int, int, int]
    balances: dict[str, Decimal]
    positions: list[tuple]

    @classmethod
    def take(cls, wallet) -> "Snapshot":
        return cls(
            counts=(
                Transaction.objects.count(),
                Position.objects.count(),
                ClosedTrade.objects.count(),
                Balance.objects.count(),
            ),
            balances=balances(wallet),
            positions=list(
                Position.objects.filter(wallet=wallet)
                .order_by("pk")
                .values_list(
                    "pk",
                    "status",
                    "remaining_amount",
                    "total_tokens_bought",
                    "total_invested_sol",
                    "take_profit_levels_hit",
                    "dca_count",
                )
            ),
        )


# --- Races ----------------------------------------------------------------------------------


@dataclass
class FixedVenue:
    """A venue whose swaps fill at fixed amounts, without HTTP. With a barrier, every caller
    waits in `execute` until all racers got there: each of them has passed the executor's
    unlocked first check, so only the check under the row lock can stop a second write."""

    sell_fill: Fill | None = None
    buy_fill: Fill | None = None
    barrier: threading.Barrier | None = None
    executed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _quote(self, side: str, mint: str, decimals: int) -> Quote:
        return Quote(side, mint, decimals, 0, 0, ZERO, settings.SIM_PROTOCOL_FEE_BPS, {})

    def quote_buy(self, *, mint: str, decimals: int, sol_amount: Decimal) -> Quote:
        return self._quote("buy", mint, decimals)

    def quote_sell(
        self, *, mint: str, decimals: int, token_amount: Decimal, slippage_bps: int | None = None
    ) -> Quote:
        return self._quote("sell", mint, decimals)

    def spendable(self, sol_balance: Decimal) -> Decimal:
        """As the simulated venue's: its fills charge the simulated fees."""
        return SimulatedVenue().spendable(sol_balance)

    def execute(self, quote: Quote, *, action: str) -> Fill:
        with self._lock:
            self.executed += 1
        if self.barrier is not None:
            self.barrier.wait()
        fill = self.buy_fill if quote.side == "buy" else self.sell_fill
        assert fill is not None, f"no {quote.side} fill configured"
        return fill


def sim_fill(*, sol_lamports: int, token_raw: int, decimals: int) -> Fill:
    """The fill a simulated swap of these raw amounts makes, with the SIM_* fees."""
    return Fill(
        sol_amount=whole(sol_lamports, 9),
        token_amount=whole(token_raw, decimals),
        protocol_fee_sol=protocol_fee(sol_lamports),
        network_fee_sol=network_fee(),
        price_impact=ZERO,
    )


@dataclass(frozen=True)
class Outcome:
    value: object = None
    error: BaseException | None = None


class Racers:
    """`count` threads that run the same call at the same moment, round after round.

    The threads live for all the rounds, so each keeps one database connection, and closes it
    when the racers are closed. Use as a context manager.
    """

    def __init__(self, count: int, timeout: float = 60.0):
        self.count = count
        self._start = threading.Barrier(count + 1, timeout=timeout)
        self._done = threading.Barrier(count + 1, timeout=timeout)
        self._job = None
        self._outcomes: list[Outcome] = [Outcome()] * count
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), name=f"racer-{i}", daemon=True)
            for i in range(count)
        ]

    def __enter__(self) -> "Racers":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _loop(self, index: int) -> None:
        try:
            while True:
                self._start.wait()
                job = self._job
                if job is None:
                    return
                try:
                    self._outcomes[index] = Outcome(value=job())
                except BaseException as error:  # reported to the test, never swallowed
                    self._outcomes[index] = Outcome(error=error)
                self._done.wait()
        except threading.BrokenBarrierError:
            return
        finally:
            connection.close()

    def run(self, job) -> list[Outcome]:
        """Runs `job()` in every thread at once; returns each thread's outcome."""
        self._outcomes = [Outcome()] * self.count
        self._job = job
        self._start.wait()
        self._done.wait()
        return list(self._outcomes)

    def close(self) -> None:
        self._job = None
        with contextlib.suppress(threading.BrokenBarrierError):
            self._start.wait()
        self._start.abort()
        self._done.abort()
        for thread in self._threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self._threads), "a racer did not stop"
