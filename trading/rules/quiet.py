"""The quiet range of a position: the prices at which a tick does nothing at all.

Most ticks of most positions change nothing: the price is below the peak and above the lowest
price, and no exit rule acts. Each rule says at which prices it does nothing (`quiet`, see
trading/rules/exits.py); a position's quiet range is where all of them, and the peak and lowest
price, agree. While the position's state and rules are unchanged, the tick skips the rules for a
price inside it. A rule that cannot say (`quiet` returns None) makes the position evaluated in
full on every tick. `quiet_range` is exact in one direction only, by design: a price inside the
range is guaranteed quiet (tests/trading/rules/test_quiet.py checks this against
`evaluate_tick` on random positions); a price outside it is simply evaluated in full.

Thresholds on the percentage change from the average price become prices in the rules, at the
rules' precision, and the range is then narrowed by a relative margin far wider than any
rounding of either computation, so a price at a boundary is always evaluated in full.
"""

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from trading.rules.config import RuleConfig
from trading.rules.decimal_math import ZERO, add, multiply, subtract
from trading.rules.exits import PositionState
from trading.rules.tick import EXIT_RULES

# Each limit moves inwards by 1e-12 of (itself + the average price): ~1e-10 percentage points
# of change, where the rules, at 60 significant digits, round some 40 orders of magnitude finer.
MARGIN = Decimal("1e-12")


class QuietRange(NamedTuple):
    """A tick at a price strictly between `low` and `high`, at a time before `until` (None: any
    time), acts on nothing and leaves the peak and the lowest price as they are."""

    low: Decimal
    high: Decimal
    until: datetime | None

    def contains(self, price: Decimal, now: datetime) -> bool:
        return self.low < price < self.high and (self.until is None or now < self.until)


def quiet_range(
    cfg: RuleConfig, state: PositionState, price: Decimal, now: datetime
) -> QuietRange | None:
    """The quiet range around `price`, for a tick at `price` that was itself quiet; None when
    there is none worth remembering (the caller then evaluates every tick in full).

    A check at an earlier time than `now` is never less quiet: every test of time a rule makes
    (the stale hold, the DCA cooldown) only ever becomes true.
    """
    purchase = state.purchase_price
    if purchase <= ZERO:
        return None  # no change can be measured
    # No new peak and no new lowest price.
    low, high, until = state.lowest_price, state.peak_price, None
    for rule in EXIT_RULES:
        quiet = rule.quiet(getattr(cfg, rule.section), state, price, now)
        if quiet is None:
            return None
        if quiet.low is not None:
            low = max(low, quiet.low)
        if quiet.high is not None:
            high = min(high, quiet.high)
        if quiet.until is not None:
            until = quiet.until if until is None else min(until, quiet.until)
    quiet_range = QuietRange(
        add(low, _margin(low, purchase)), subtract(high, _margin(high, purchase)), until
    )
    # The range must hold the price it was made for, or one of the limits was not understood.
    return quiet_range if quiet_range.contains(price, now) else None


def _margin(limit: Decimal, purchase: Decimal) -> Decimal:
    return multiply(add(abs(limit), purchase), MARGIN)
