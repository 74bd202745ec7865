"""Position size for a buy and the price-impact guard (trading-rules.md section 3)."""

import random
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import NamedTuple

from trading.rules.config import PurchaseLimits, SizingConfig
from trading.rules.decimal_math import CONTEXT, ZERO, multiply, subtract

INSUFFICIENT_BALANCE = "insufficient_balance"
BELOW_MINIMUM_THRESHOLD = "below_minimum_threshold"
CANNOT_KEEP_MINIMUM_BALANCE = "cannot_keep_minimum_balance"

SOL_DECIMALS = 9
LAMPORT = Decimal(1).scaleb(-SOL_DECIMALS)
MIN_REQUOTE_SOL = Decimal("0.01")
REQUOTE_FRACTIONS = (Decimal("0.9"), Decimal("0.8"), Decimal("0.7"))

_shared_rng = random.Random()


class SizingError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class SizeResult(NamedTuple):
    category: str
    size_sol: Decimal


def position_size(
    sizing: SizingConfig,
    limits: PurchaseLimits,
    sol_balance: Decimal,
    rng: random.Random | None = None,
) -> SizeResult:
    """How much SOL to spend on a buy, keeping the agent's minimum balance in the wallet."""
    if sol_balance <= ZERO:
        raise SizingError(INSUFFICIENT_BALANCE, f"balance {sol_balance} SOL is empty")
    if sol_balance < sizing.minimum:
        raise SizingError(
            BELOW_MINIMUM_THRESHOLD,
            f"balance {sol_balance} SOL is below the minimum threshold {sizing.minimum}",
        )
    category, (low, high) = _category(sizing, sol_balance)
    size = _uniform_lamports(low, high, rng) if sizing.randomization else high
    size = min(size, limits.max_purchase_per_token)
    if subtract(sol_balance, size) < limits.minimum_agent_balance:
        spendable = subtract(sol_balance, limits.minimum_agent_balance)
        if spendable <= ZERO:
            raise SizingError(
                CANNOT_KEEP_MINIMUM_BALANCE,
                f"balance {sol_balance} SOL cannot keep {limits.minimum_agent_balance} SOL back",
            )
        size = min(spendable, limits.max_purchase_per_token)
    return SizeResult(category, size)


def impact_ladder(size_sol: Decimal) -> list[Decimal]:
    """The sizes to quote, in order: the size itself, then 0.9, 0.8 and 0.7 of it.

    Re-quotes under 0.01 SOL are dropped rather than clamped: a clamped rung would quote a size
    the ladder never asked for, possibly several times over. The first rung is the size that
    was chosen, so it is always quoted.
    """
    retries = (
        multiply(size_sol, fraction).quantize(LAMPORT, rounding=ROUND_DOWN, context=CONTEXT)
        for fraction in REQUOTE_FRACTIONS
    )
    return [size_sol, *(size for size in retries if size >= MIN_REQUOTE_SOL)]


def impact_ok(price_impact_ratio: Decimal, limit: Decimal | None) -> bool:
    """Whether a quote's impact (a ratio: 0.0123 = 1.23%) is acceptable; None disables the guard."""
    return limit is None or price_impact_ratio < limit


def _category(sizing: SizingConfig, balance: Decimal) -> tuple[str, tuple[Decimal, Decimal]]:
    if balance >= sizing.large:
        return "large", sizing.large_range
    if balance >= sizing.medium:
        return "medium", sizing.medium_range
    return "small", sizing.small_range


def _uniform_lamports(low: Decimal, high: Decimal, rng: random.Random | None) -> Decimal:
    """A uniform draw in [low, high] counted in whole lamports, so no float is involved."""
    high_lamports = _to_lamports(high, ROUND_FLOOR)
    # A range narrower than one lamport collapses onto its top rounded down: never spend more
    # than the range allows.
    low_lamports = min(_to_lamports(low, ROUND_CEILING), high_lamports)
    draw = (_shared_rng if rng is None else rng).randint(low_lamports, high_lamports)
    return Decimal(draw).scaleb(-SOL_DECIMALS, context=CONTEXT)


def _to_lamports(sol: Decimal, rounding: str) -> int:
    return int(sol.scaleb(SOL_DECIMALS, context=CONTEXT).to_integral_value(rounding=rounding))
