"""The quiet range of a position: the prices at which a tick does nothing at all.

Most ticks of most positions change nothing: the price is below the peak and above the lowest
price, the stop and the next take-profit target, and DCA and stale-trade levels are not reached.
Every one of those conditions is a price threshold fixed by the position's state and its
configuration, so after a quiet tick the engine can remember the open interval between the
nearest thresholds and, while the position's state is unchanged, skip the rules for a price
inside it. `quiet_range` is exact in one direction only, by design: a price inside the range is
guaranteed quiet (tests/trading/rules/test_quiet.py checks this against `evaluate_tick` on
random positions); a price outside it is simply evaluated in full.

Thresholds on the percentage change from the average price become prices here, computed at
the rules' precision, and the range is then narrowed by a relative margin far wider than any
rounding of either computation, so a price at a boundary is always evaluated in full.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from trading.rules.config import RuleConfig
from trading.rules.decimal_math import (
    ZERO,
    add,
    multiply,
    percent_change,
    percent_of,
    subtract,
)
from trading.rules.stale import SECONDS_PER_MINUTE, held_long_enough
from trading.rules.stop_loss import ratcheted_stop_percent, stop_price_for
from trading.rules.tick import PositionState

# Each limit moves inwards by 1e-12 of (itself + the average price): ~1e-10 percentage points
# of change, where the rules, at 60 significant digits, round some 40 orders of magnitude finer.
MARGIN = Decimal("1e-12")


class QuietRange(NamedTuple):
    """A tick at a price strictly between `low` and `high`, at a time before `until` (None: any
    time), acts on nothing and leaves the peak and the lowest price as they are; its stop
    percent is `stop_loss_percent`, the same for every such tick. (The stop the rules return
    can differ from the stored one only by the rounding of storage: a stop the position has not
    stored yet moves it, and the tick that moves it is not quiet.)"""

    low: Decimal
    high: Decimal
    until: datetime | None
    stop_loss_percent: Decimal

    def contains(self, price: Decimal, now: datetime) -> bool:
        return self.low < price < self.high and (self.until is None or now < self.until)


def quiet_range(
    cfg: RuleConfig, state: PositionState, price: Decimal, now: datetime
) -> QuietRange | None:
    """The quiet range around `price`, for a tick at `price` that was itself quiet; None when
    there is none worth remembering (the caller then evaluates every tick in full).

    The time limit only ever comes from the stale-trade hold: every other rule that depends on
    time (the DCA cooldown) is excluded by price whatever the time, and a check at an earlier
    time than `now` is never less quiet, because both time tests only ever become true.
    """
    purchase = state.purchase_price
    if purchase <= ZERO or state.take_profit_levels_hit < state.take_profit_batch_start:
        return None  # no change can be measured; or the take-profit state is inconsistent
    # Below the peak the stop cannot ratchet further: whatever the price, it is this one.
    stop_percent = state.stop_loss_percent
    if cfg.stop_loss.enabled:
        stop_percent = ratcheted_stop_percent(
            cfg.stop_loss, purchase, state.peak_price, stop_percent
        )
    # No new peak and no new lowest price.
    low, high = state.lowest_price, state.peak_price
    if cfg.stop_loss.enabled:
        low = max(low, stop_price_for(purchase, stop_percent))
    target = _next_take_profit_target(cfg, state)
    if target is not None:
        high = min(high, _price_at(purchase, target))
    dca_drop = _next_dca_drop(cfg, state)
    if dca_drop is not None:
        low = max(low, _price_at(purchase, dca_drop))
    stale = _stale_limits(cfg, state, percent_change(price, purchase), now)
    if stale is None:
        return None
    stale_low, stale_high, until = stale
    if stale_low is not None:
        low = max(low, _price_at(purchase, stale_low))
    if stale_high is not None:
        high = min(high, _price_at(purchase, stale_high))
    quiet = QuietRange(
        add(low, _margin(low, purchase)),
        subtract(high, _margin(high, purchase)),
        until,
        stop_percent,
    )
    # The range must hold the price it was made for, or one of the limits was not understood.
    return quiet if quiet.contains(price, now) else None


def _margin(limit: Decimal, purchase: Decimal) -> Decimal:
    return multiply(add(abs(limit), purchase), MARGIN)


def _price_at(purchase: Decimal, change_percent: Decimal) -> Decimal:
    return add(purchase, percent_of(purchase, change_percent))


def _next_take_profit_target(cfg: RuleConfig, state: PositionState) -> Decimal | None:
    """The gain that takes the next take-profit level, or None if no level is left."""
    take_profit = cfg.take_profit
    if not take_profit.enabled:
        return None
    levels, _ = take_profit.resolved()
    batch_end = state.take_profit_total_levels
    if batch_end is None:
        batch_end = len(levels)
    first = state.take_profit_levels_hit - state.take_profit_batch_start
    if first < 0 or state.take_profit_levels_hit >= batch_end or first >= len(levels):
        return None
    return levels[first].target_percent


def _next_dca_drop(cfg: RuleConfig, state: PositionState) -> Decimal | None:
    """The change that triggers the next DCA buy, or None if no buy can come at any price.

    The cooldown is ignored on purpose: the range then excludes the level whatever the time.
    """
    dca = cfg.dca
    if not dca.enabled or state.dca_count >= dca.max_dca_count:
        return None
    if state.moon_bag_activated and state.remaining_amount <= state.moon_bag_amount:
        return None
    levels = dca.resolved_levels()
    if state.dca_count >= len(levels):
        return None
    return levels[state.dca_count].drop_percent


def _stale_limits(
    cfg: RuleConfig, state: PositionState, change: Decimal, now: datetime
) -> tuple[Decimal | None, Decimal | None, datetime | None] | None:
    """(lowest change, highest change, until) that keep the stale-trade close away: the range
    stays on the side of the profit window the price is on; inside the window, only until the
    position has been held long enough. None if the close is due now."""
    stale = cfg.stale_trade
    if not stale.enabled or stale.min_profit_percent > stale.max_profit_percent:
        return None, None, None
    if change < stale.min_profit_percent:
        return None, stale.min_profit_percent, None
    if change > stale.max_profit_percent:
        return stale.max_profit_percent, None, None
    if held_long_enough(stale, now - state.opened_at):
        return None
    held_enough_at = state.opened_at + timedelta(
        seconds=stale.min_hold_minutes * SECONDS_PER_MINUTE
    )
    return None, None, held_enough_at
