"""Stale trades (trading-rules.md section 6): close a position that has gone nowhere for long
enough, while its profit sits inside the configured window (both ends inclusive)."""

from datetime import timedelta
from decimal import Decimal

from trading.rules.config import StaleTradeConfig
from trading.rules.decimal_math import percent_change

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
