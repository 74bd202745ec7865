"""One price tick for one open position (trading-rules.md section 6).

Order: stop loss (a sale ends the tick) -> take profit -> stale trade (a close ends the tick)
-> DCA -> lowest price. A tick that closes the position ends there, so it leaves the lowest
price as it was. This runs for every open position on every tick, so the no-action path
avoids needless work: the price change is computed once, refusals are shared constants, and
the result is a NamedTuple.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from trading.rules.config import RuleConfig
from trading.rules.dca import dca_at_change
from trading.rules.decimal_math import ZERO, percent_change
from trading.rules.stale import held_long_enough, profit_in_window
from trading.rules.stop_loss import ratcheted_stop_percent, stop_price_for
from trading.rules.take_profit import TakeProfitResult, take_profit_at_gain

STOP_LOSS_SELL = "stop_loss_sell"
TAKE_PROFIT_SELL = "take_profit_sell"
STALE_SELL = "stale_sell"
DCA_BUY = "dca_buy"

MICROSECOND = timedelta(microseconds=1)
MICROSECOND_EXPONENT = -6


class PositionState(NamedTuple):
    """A position as the rules see it. A NamedTuple: one is built for every open position on
    every tick, and it constructs several times faster than a frozen dataclass."""

    purchase_price: Decimal
    total_invested_sol: Decimal
    total_tokens_bought: Decimal
    remaining_amount: Decimal
    peak_price: Decimal
    lowest_price: Decimal
    stop_loss_percent: Decimal
    take_profit_levels_hit: int
    take_profit_batch_start: int
    take_profit_total_levels: int | None
    moon_bag_activated: bool
    moon_bag_amount: Decimal
    dca_count: int
    last_dca_at: datetime | None
    opened_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """Something to execute. `new_levels_hit` is always the take-profit count after the action,
    so persisting it is never wrong."""

    kind: str
    new_levels_hit: int
    token_amount: Decimal = ZERO
    sol_amount: Decimal = ZERO
    levels: int = 0
    activate_moon_bag: bool = False
    moon_bag_amount: Decimal = ZERO
    close_position: bool = False
    reason: str = ""


class TickResult(NamedTuple):
    """The actions to execute, in order, and the exit state to persist even when there are none.

    A NamedTuple rather than a frozen dataclass: it is built for every position on every tick,
    and a frozen dataclass takes more than twice as long to construct.
    """

    actions: tuple[Action, ...]
    peak_price: Decimal
    lowest_price: Decimal
    stop_loss_percent: Decimal
    stop_price: Decimal


def evaluate_tick(
    cfg: RuleConfig, state: PositionState, price: Decimal, now: datetime
) -> TickResult:
    peak = price if price > state.peak_price else state.peak_price
    stop_percent = state.stop_loss_percent
    if cfg.stop_loss.enabled:
        stop_percent = ratcheted_stop_percent(
            cfg.stop_loss, state.purchase_price, peak, stop_percent
        )
    stop_price = stop_price_for(state.purchase_price, stop_percent)
    if cfg.stop_loss.enabled and price <= stop_price:
        # Everything goes, the moon bag included.
        sale = _closing_sale(STOP_LOSS_SELL, state, state.remaining_amount, "stop loss hit")
        return TickResult((sale,), peak, state.lowest_price, stop_percent, stop_price)
    actions, closes = _manage_open_position(cfg, state, price, now)
    lowest = price if price < state.lowest_price and not closes else state.lowest_price
    return TickResult(actions, peak, lowest, stop_percent, stop_price)


def _manage_open_position(
    cfg: RuleConfig, state: PositionState, price: Decimal, now: datetime
) -> tuple[tuple[Action, ...], bool]:
    """Take profit, stale trade and DCA, each seeing what the one before it left."""
    # The same change from the average price drives all three; compute it once.
    change = percent_change(price, state.purchase_price)
    actions: tuple[Action, ...] = ()
    remaining = state.remaining_amount
    if cfg.take_profit.enabled:
        profit = _take_profit(cfg, state, change)
        if profit.execute:
            actions = (_take_profit_sale(profit),)
            if profit.close_position:
                return actions, True
            remaining = profit.remaining
    if _is_stale(cfg, state, change, now):
        sale = _closing_sale(STALE_SELL, state, remaining, "stale trade")
        return (*actions, sale), True
    if cfg.dca.enabled:
        buy = _dca_buy(cfg, state, price, change, now, remaining)
        if buy is not None:
            actions = (*actions, buy)
    return actions, False


def _take_profit(cfg: RuleConfig, state: PositionState, gain: Decimal) -> TakeProfitResult:
    return take_profit_at_gain(
        cfg.take_profit,
        gain_percent=gain,
        original_amount=state.total_tokens_bought,
        remaining_amount=state.remaining_amount,
        levels_hit=state.take_profit_levels_hit,
        batch_start_level=state.take_profit_batch_start,
        total_levels=state.take_profit_total_levels,
        moon_bag_activated=state.moon_bag_activated,
        moon_bag_amount=state.moon_bag_amount,
    )


def _take_profit_sale(profit: TakeProfitResult) -> Action:
    return Action(
        kind=TAKE_PROFIT_SELL,
        new_levels_hit=profit.new_levels_hit,
        token_amount=profit.sell_amount,
        levels=profit.levels,
        activate_moon_bag=profit.activate_moon_bag,
        moon_bag_amount=profit.moon_bag_amount,
        close_position=profit.close_position,
        reason=profit.reason,
    )


def _is_stale(cfg: RuleConfig, state: PositionState, change: Decimal, now: datetime) -> bool:
    stale = cfg.stale_trade
    return (
        stale.enabled
        and held_long_enough(stale, now - state.opened_at)
        and profit_in_window(stale, change)
    )


def _dca_buy(
    cfg: RuleConfig,
    state: PositionState,
    price: Decimal,
    change: Decimal,
    now: datetime,
    remaining: Decimal,
) -> Action | None:
    since_last = None if state.last_dca_at is None else _seconds_between(state.last_dca_at, now)
    decision = dca_at_change(
        cfg.dca,
        change_percent=change,
        price=price,
        remaining_amount=remaining,
        dca_count=state.dca_count,
        seconds_since_last_dca=since_last,
        # The stored moon bag is the one that counts: a tick that takes profit (a gain of at
        # least 1%) cannot also reach a DCA level (a drop of at least 1%).
        only_moon_bag_left=state.moon_bag_activated and remaining <= state.moon_bag_amount,
    )
    if not decision.trigger:
        return None
    return Action(
        kind=DCA_BUY,
        new_levels_hit=state.take_profit_levels_hit,
        sol_amount=decision.buy_amount_sol,
        reason=decision.reason,
    )


def _closing_sale(kind: str, state: PositionState, amount: Decimal, reason: str) -> Action:
    return Action(
        kind=kind,
        new_levels_hit=state.take_profit_levels_hit,
        token_amount=amount,
        close_position=True,
        reason=reason,
    )


def _seconds_between(start: datetime, end: datetime) -> Decimal:
    # Whole microseconds as an integer keep the figure exact; total_seconds() is a float.
    return Decimal((end - start) // MICROSECOND).scaleb(MICROSECOND_EXPONENT)
