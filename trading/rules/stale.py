"""Stale trades (trading-rules.md section 6): close a position that has gone nowhere for long
enough, while its profit sits inside the configured window (both ends inclusive)."""

from datetime import datetime, timedelta
from decimal import Decimal

from trading.rules.config import StaleTradeConfig
from trading.rules.decimal_math import percent_change, price_at_change
from trading.rules.exits import ALWAYS_QUIET, ActionKind, Quiet, Tick

SECONDS_PER_MINUTE = 60
SECONDS_PER_DAY = 86_400


def should_close_stale(
    cfg: StaleTradeConfig, *, purchase_price: Decimal, price: Decimal, age_minutes: Decimal
) -> bool:
    return (
        cfg.enabled
        and age_minutes >= cfg.min_hold_minutes
        and profit_in_window(cfg, percent_change(price, purchase_price))
    )


def held_long_enough(cfg: StaleTradeConfig, held: timedelta) -> bool:
    """The age test on a timedelta, without building a Decimal on every tick.

    Whole seconds suffice: the threshold is a whole number of minutes, so dropping the
    microseconds can never move the age across it.
    """
    whole_seconds = held.days * SECONDS_PER_DAY + held.seconds
    return whole_seconds >= cfg.min_hold_minutes * SECONDS_PER_MINUTE


def profit_in_window(cfg: StaleTradeConfig, profit_percent: Decimal) -> bool:
    # An inverted window (min > max) contains no value, so it never closes anything.
    return cfg.min_profit_percent <= profit_percent <= cfg.max_profit_percent


class StaleTradeRule:
    """The exit rule: close a position held long enough whose profit sits in the window."""

    section = "stale_trade"
    kinds = (ActionKind.STALE_SELL,)

    def apply(self, cfg: StaleTradeConfig, tick: Tick) -> None:
        if (
            cfg.enabled
            and held_long_enough(cfg, tick.now - tick.state.opened_at)
            and profit_in_window(cfg, tick.change)
        ):
            tick.close(ActionKind.STALE_SELL, "stale trade")

    def quiet(self, cfg: StaleTradeConfig, state, price: Decimal, now: datetime) -> Quiet | None:
        """The range stays on the side of the profit window the price is on; inside the window,
        only until the position has been held long enough. None if the close is due now."""
        if not cfg.enabled or cfg.min_profit_percent > cfg.max_profit_percent:
            return ALWAYS_QUIET
        purchase = state.purchase_price
        change = percent_change(price, purchase)
        if change < cfg.min_profit_percent:
            return Quiet(high=price_at_change(purchase, cfg.min_profit_percent))
        if change > cfg.max_profit_percent:
            return Quiet(low=price_at_change(purchase, cfg.max_profit_percent))
        if held_long_enough(cfg, now - state.opened_at):
            return None
        held_enough_at = state.opened_at + timedelta(
            seconds=cfg.min_hold_minutes * SECONDS_PER_MINUTE
        )
        return Quiet(until=held_enough_at)
