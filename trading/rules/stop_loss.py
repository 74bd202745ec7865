"""Stop loss (trading-rules.md section 4): a trailing stop that only ever tightens.

Percentages are relative to the AVERAGE purchase price: -32 sells at 68% of it, 90 at 190%.
"""

from decimal import Decimal, localcontext
from functools import lru_cache
from typing import NamedTuple

from trading.rules.config import CUSTOM, StopLossConfig
from trading.rules.decimal_math import (
    CONTEXT,
    ONE,
    ZERO,
    add,
    multiply,
    percent_change,
    percent_of,
    subtract,
)
from trading.rules.exits import ALWAYS_QUIET, ActionKind, Quiet, Tick

# Below this peak gain (percent) the built-in curves keep the default stop.
TRAILING_START = Decimal(20)
FIXED_GAP = Decimal(10)
MAX_KEEP = Decimal("0.90")

# Exponential curve: keep rises towards 1 - e^(-x/31.25), dips briefly around x = 55, and gets
# a late boost past x = 65 so big runners lock in more of their gain.
EXP_RISE = Decimal("31.25")
DIP_DEPTH = Decimal("0.12")
DIP_CENTRE = Decimal(55)
DIP_WIDTH = Decimal(8)
BOOST_START = Decimal(65)
BOOST_SIZE = Decimal("0.30")
BOOST_RISE = Decimal(80)
# Enough for every open position of a busy engine to keep its entry between new peaks.
EXPONENTIAL_CACHE_SIZE = 65_536

# Zones: (highest peak gain of the zone, share of the gain kept); above the last, ZONE_TOP_KEEP.
ZONES = (
    (Decimal(25), Decimal("0.50")),
    (Decimal(50), Decimal("0.60")),
    (Decimal(100), Decimal("0.70")),
    (Decimal(200), Decimal("0.80")),
)
ZONE_TOP_KEEP = Decimal("0.85")


class StopLossResult(NamedTuple):
    trigger: bool
    stop_loss_percent: Decimal
    stop_price: Decimal
    peak_price: Decimal


def target_stop_percent(cfg: StopLossConfig, peak_change_percent: Decimal) -> Decimal:
    """The stop percent the mode asks for at a peak this far above the average price."""
    if peak_change_percent < ZERO:
        return cfg.default_percentage
    if cfg.mode == CUSTOM:
        return _custom_target(cfg, peak_change_percent)
    curve = _CURVES.get(cfg.mode)
    if curve is None:
        raise ValueError(f"unknown stop-loss mode {cfg.mode!r}")
    target = curve(peak_change_percent)
    # A curve answers zero (or less) where it does not trail yet: the default stop applies.
    return target if target > ZERO else cfg.default_percentage


def ratcheted_stop_percent(
    cfg: StopLossConfig, purchase_price: Decimal, peak_price: Decimal, current_stop_percent: Decimal
) -> Decimal:
    """The new stop percent: the mode's target, but never looser than the current stop."""
    target = target_stop_percent(cfg, percent_change(peak_price, purchase_price))
    return target if target > current_stop_percent else current_stop_percent


def stop_price_for(purchase_price: Decimal, stop_percent: Decimal) -> Decimal:
    return add(purchase_price, percent_of(purchase_price, stop_percent))


def evaluate_stop_loss(
    cfg: StopLossConfig,
    *,
    purchase_price: Decimal,
    peak_price: Decimal,
    current_stop_percent: Decimal,
    price: Decimal,
) -> StopLossResult:
    """One tick: raise the peak, ratchet the stop, and trigger when price <= stop price."""
    peak = price if price > peak_price else peak_price
    stop_percent = current_stop_percent
    if cfg.enabled:
        stop_percent = ratcheted_stop_percent(cfg, purchase_price, peak, current_stop_percent)
    stop_price = stop_price_for(purchase_price, stop_percent)
    return StopLossResult(cfg.enabled and price <= stop_price, stop_percent, stop_price, peak)


def _custom_target(cfg: StopLossConfig, peak_change_percent: Decimal) -> Decimal:
    """The stop of the highest level reached; levels may arrive in any order."""
    best = None
    for level in cfg.trailing_levels:
        if level.change <= peak_change_percent and (best is None or level.change > best.change):
            best = level
    return cfg.default_percentage if best is None else best.stop_loss


def _fixed_curve(p: Decimal) -> Decimal:
    return subtract(p, FIXED_GAP) if p >= TRAILING_START else ZERO


def _exponential_curve(p: Decimal) -> Decimal:
    if p <= TRAILING_START:
        return ZERO
    return _exponential_trail(p)


# Three 60-digit exponentials cost about 50 microseconds, and a position asks for the same
# peak gain on every tick until it makes a new peak, so the answers are remembered.
@lru_cache(maxsize=EXPONENTIAL_CACHE_SIZE)
def _exponential_trail(p: Decimal) -> Decimal:
    # A formula this long reads better with operators inside the fixed-precision context;
    # entering it costs little next to the exponentials.
    with localcontext(CONTEXT):
        x = p - TRAILING_START
        rise = ONE - (-x / EXP_RISE).exp()
        dip = DIP_DEPTH * (-(((x - DIP_CENTRE) / DIP_WIDTH) ** 2) / 2).exp()
        keep = min(max(rise - dip, ZERO), MAX_KEEP)
        if x > BOOST_START:
            boost = BOOST_SIZE * (ONE - (-(x - BOOST_START) / BOOST_RISE).exp())
            keep = min(MAX_KEEP, keep + boost)
        return p * keep


def _zones_curve(p: Decimal) -> Decimal:
    if p < TRAILING_START:
        return ZERO
    keep = next((share for ceiling, share in ZONES if p <= ceiling), ZONE_TOP_KEEP)
    return multiply(p, keep)


_CURVES = {"fixed": _fixed_curve, "exponential": _exponential_curve, "zones": _zones_curve}


class StopLossRule:
    """The exit rule: ratchet the stop from the peak, and sell everything at or below it."""

    section = "stop_loss"
    kinds = (ActionKind.STOP_LOSS_SELL,)

    def apply(self, cfg: StopLossConfig, tick: Tick) -> None:
        if not cfg.enabled:
            return
        purchase = tick.state.purchase_price
        tick.stop_percent = ratcheted_stop_percent(cfg, purchase, tick.peak, tick.stop_percent)
        tick.stop_price = stop_price_for(purchase, tick.stop_percent)
        if tick.price <= tick.stop_price:
            tick.close(ActionKind.STOP_LOSS_SELL, "stop loss hit")

    def quiet(self, cfg: StopLossConfig, state, price: Decimal, now) -> Quiet:
        if not cfg.enabled:
            return ALWAYS_QUIET
        # Below the peak the stop cannot ratchet further: whatever the price, it is this one.
        stop = ratcheted_stop_percent(
            cfg, state.purchase_price, state.peak_price, state.stop_loss_percent
        )
        return Quiet(low=stop_price_for(state.purchase_price, stop))
