"""Exact money: every SOL and token amount is a Decimal built from a string or an integer.

The one place where amounts are quantised and where raw on-chain units become whole units.
Importing this module raises the Decimal precision of this thread and of every thread created
afterwards, because 1e15 tokens with 18 decimal places need 34 significant digits and
Python's default context keeps only 28.
"""

import decimal
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

PRECISION = 60
decimal.DefaultContext.prec = PRECISION
decimal.getcontext().prec = PRECISION

LAMPORTS_PER_SOL = 10**9
SOL_DECIMALS = 9
WSOL_MINT = "So11111111111111111111111111111111111111112"

AMOUNT_MAX_DIGITS = 40
AMOUNT_PLACES = 18
PRICE_MAX_DIGITS = 60
PRICE_PLACES = 30
PERCENT_MAX_DIGITS = 30
PERCENT_PLACES = 10

ZERO = Decimal(0)
_AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
_PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)
_PERCENT_QUANTUM = Decimal(1).scaleb(-PERCENT_PLACES)


def to_decimal(value) -> Decimal:
    """A Decimal from a str, int or Decimal. Floats are refused: they already lost digits."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool | float):
        raise TypeError(f"refusing to build money from {type(value).__name__} {value!r}")
    return Decimal(value)


def amount(value) -> Decimal:
    """A ledger amount (SOL or tokens), rounded down to the ledger's 18 places."""
    return to_decimal(value).quantize(_AMOUNT_QUANTUM, rounding=ROUND_DOWN)


def price(value) -> Decimal:
    return to_decimal(value).quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def percent(value) -> Decimal:
    return to_decimal(value).quantize(_PERCENT_QUANTUM, rounding=ROUND_HALF_EVEN)


def lamports_to_sol(lamports: int) -> Decimal:
    return Decimal(int(lamports)).scaleb(-SOL_DECIMALS)


def sol_to_lamports(sol: Decimal) -> int:
    """Whole lamports, rounded down: never spend more than was asked."""
    return int(to_decimal(sol).scaleb(SOL_DECIMALS).to_integral_value(rounding=ROUND_DOWN))


def raw_to_ui(raw: int, decimals: int) -> Decimal:
    return Decimal(int(raw)).scaleb(-int(decimals))


def ui_to_raw(ui: Decimal, decimals: int) -> int:
    return int(to_decimal(ui).scaleb(int(decimals)).to_integral_value(rounding=ROUND_DOWN))


def divide(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator, or zero when the denominator is zero (an empty cost basis)."""
    if denominator == 0:
        return ZERO
    return to_decimal(numerator) / to_decimal(denominator)


def as_str(value: Decimal | None) -> str | None:
    """Decimals travel as plain fixed-point strings (no exponent), trailing zeros trimmed."""
    if value is None:
        return None
    text = format(to_decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
