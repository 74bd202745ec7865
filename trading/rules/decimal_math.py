"""Decimal arithmetic at a fixed precision, whatever context the calling thread has.

Token amounts carry 18 decimal places and can reach 10^15 whole tokens, which needs more than
the 28 significant digits of Python's default context. The rules never change a thread's
context (they run in many threads); they compute through this one instead. The bound methods
below cost no more than the operators, which matters on the per-tick path.
"""

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal

PRECISION = 60
CONTEXT = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)

add = CONTEXT.add
subtract = CONTEXT.subtract
multiply = CONTEXT.multiply
divide = CONTEXT.divide


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator, or zero when there is nothing to divide by (an empty cost basis)."""
    if denominator == ZERO:
        return ZERO
    return divide(numerator, denominator)


def percent_change(value: Decimal, base: Decimal) -> Decimal:
    """(value - base) / base x 100; zero for a zero base, which has no meaningful change."""
    if base == ZERO:
        return ZERO
    # Scaling before dividing leaves a single rounding step: 1.01 over 1.0 is exactly 1%.
    return divide(multiply(subtract(value, base), HUNDRED), base)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    return divide(multiply(amount, percent), HUNDRED)


def price_at_change(base: Decimal, change_percent: Decimal) -> Decimal:
    """The price that is `change_percent` away from `base`."""
    return add(base, percent_of(base, change_percent))


_MICROSECOND = timedelta(microseconds=1)


def seconds_between(start: datetime, end: datetime) -> Decimal:
    # Whole microseconds as an integer keep the figure exact; total_seconds() is a float.
    return Decimal((end - start) // _MICROSECOND).scaleb(-6)
