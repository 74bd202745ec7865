"""What every exit rule is made of, and what a tick hands from one rule to the next.

An exit rule (stop loss, take profit, stale trade, DCA: each in its own module, listed in
`trading.rules.EXIT_RULES`) brings:

- `section`: the name of its configuration section, in `RuleConfig` and in the agent
  configuration schema (`agents.config.AgentConfig`);
- `kinds`: the action kinds it can decide;
- `apply(config, tick)`: its part of one tick, reading what the rules before it left and
  leaving its actions for the executor;
- `quiet(config, state, price, now)`: the prices around `price` at which it does nothing at all
  (`Quiet`), or None when it cannot say, and the position is then evaluated on every tick.

Nothing here imports Django: the rules are pure functions of plain values.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple, Protocol


class CloseReason(StrEnum):
    """Why a position closed (stored on the position and its closed trade)."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    STALE_TRADE = "stale_trade"
    MANUAL = "manual"
    RUG_PULL = "rug_pull"
    # A posted signal with action "sell", and the AI strategist's close.
    SIGNAL = "signal"
    AI = "ai"


class ActionKind(StrEnum):
    """What a rule asks the executor to do; the tick, the backtest and the executor share it."""

    STOP_LOSS_SELL = "stop_loss_sell"
    TAKE_PROFIT_SELL = "take_profit_sell"
    STALE_SELL = "stale_sell"
    DCA_BUY = "dca_buy"

    @property
    def close_reason(self) -> CloseReason | None:
        """The reason a position closed by this action records; None for a buy."""
        return _CLOSE_REASONS.get(self)

    @property
    def sells_everything(self) -> bool:
        """A full exit: everything the position holds is sold, the moon bag included."""
        return self in (ActionKind.STOP_LOSS_SELL, ActionKind.STALE_SELL)


_CLOSE_REASONS = {
    ActionKind.STOP_LOSS_SELL: CloseReason.STOP_LOSS,
    ActionKind.TAKE_PROFIT_SELL: CloseReason.TAKE_PROFIT,
    ActionKind.STALE_SELL: CloseReason.STALE_TRADE,
}


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


ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """Something to execute. `new_levels_hit` is always the take-profit count after the action,
    so persisting it is never wrong."""

    kind: ActionKind
    new_levels_hit: int
    token_amount: Decimal = ZERO
    sol_amount: Decimal = ZERO
    levels: int = 0
    activate_moon_bag: bool = False
    moon_bag_amount: Decimal = ZERO
    close_position: bool = False
    reason: str = ""


@dataclass(slots=True)
class Tick:
    """One tick of one position, as the rules pass it along: each rule reads what the ones
    before it left (the stop, what a sale left to hold) and adds its actions. A rule that
    closes the position ends the tick."""

    state: PositionState
    price: Decimal
    now: datetime
    peak: Decimal  # the peak including this price
    change: Decimal  # percent change of the price from the average purchase price
    stop_percent: Decimal
    remaining: Decimal
    stop_price: Decimal | None = None
    actions: list[Action] = field(default_factory=list)
    closed: bool = False

    def close(self, kind: ActionKind, reason: str) -> None:
        """Sell everything still held (the moon bag included), ending the tick."""
        self.actions.append(
            Action(
                kind=kind,
                new_levels_hit=self.state.take_profit_levels_hit,
                token_amount=self.remaining,
                close_position=True,
                reason=reason,
            )
        )
        self.closed = True


class Quiet(NamedTuple):
    """Prices strictly between `low` and `high` (None: unbounded), before `until` (None: any
    time), at which a rule does nothing and changes nothing."""

    low: Decimal | None = None
    high: Decimal | None = None
    until: datetime | None = None


ALWAYS_QUIET = Quiet()


class ExitRule(Protocol):
    section: str
    kinds: tuple[ActionKind, ...]

    def apply(self, config, tick: Tick) -> None: ...

    def quiet(
        self, config, state: PositionState, price: Decimal, now: datetime
    ) -> Quiet | None: ...
