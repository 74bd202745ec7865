"""One price tick for one open position (trading-rules.md section 6): every exit rule in turn.

EXIT_RULES is the one list of exit rules, in the order a tick applies them: stop loss (a sale
ends the tick) -> take profit -> stale trade (a close ends the tick) -> DCA. Then the lowest
price, unless the tick closed the position. A new rule is a module of its own (see
trading/rules/exits.py for what it brings) added here; docs/extending.md has the recipe.
"""

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from trading.rules.config import RuleConfig
from trading.rules.dca import DcaRule
from trading.rules.decimal_math import percent_change
from trading.rules.exits import Action, ExitRule, PositionState, Tick
from trading.rules.stale import StaleTradeRule
from trading.rules.stop_loss import StopLossRule, stop_price_for
from trading.rules.take_profit import TakeProfitRule

EXIT_RULES: tuple[ExitRule, ...] = (StopLossRule(), TakeProfitRule(), StaleTradeRule(), DcaRule())

__all__ = ["EXIT_RULES", "Action", "PositionState", "TickResult", "evaluate_tick"]


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
    tick = Tick(
        state=state,
        price=price,
        now=now,
        peak=price if price > state.peak_price else state.peak_price,
        # The same change from the average price drives take profit, stale trade and DCA.
        change=percent_change(price, state.purchase_price),
        stop_percent=state.stop_loss_percent,
        remaining=state.remaining_amount,
    )
    for rule in EXIT_RULES:
        rule.apply(getattr(cfg, rule.section), tick)
        if tick.closed:
            break
    # The rules hand back the very objects they were given for what did not move, so the
    # caller tells the common tick apart without rounding anything.
    lowest = price if price < state.lowest_price and not tick.closed else state.lowest_price
    stop_price = tick.stop_price
    if stop_price is None:
        stop_price = stop_price_for(state.purchase_price, tick.stop_percent)
    return TickResult(tuple(tick.actions), tick.peak, lowest, tick.stop_percent, stop_price)
