"""Take profit (trading-rules.md section 5, pinned by conformance/take_profit.json).

Levels are consumed in order, several at once when the price jumps past them. Each sells a
fraction of the ORIGINAL amount (all tokens ever bought), never the moon bag. After a DCA buy
the levels restart as a new batch: `levels_hit` keeps counting across batches, `batch_start`
is where the current batch began and `total_levels` where it ends.
"""

from decimal import Decimal
from typing import NamedTuple

from trading.rules.config import MoonBagConfig, TakeProfitConfig, TakeProfitLevel
from trading.rules.decimal_math import ZERO, percent_change, percent_of, price_at_change, subtract
from trading.rules.exits import ALWAYS_QUIET, Action, ActionKind, Quiet, Tick

# Less than this many tokens left is dust: nothing worth another swap.
DUST_TOKENS = Decimal("1e-9")


class TakeProfitResult(NamedTuple):
    execute: bool
    levels: int
    new_levels_hit: int
    sell_amount: Decimal
    activate_moon_bag: bool
    moon_bag_amount: Decimal
    remaining: Decimal
    close_position: bool
    reason: str


def evaluate_take_profit(
    cfg: TakeProfitConfig,
    *,
    purchase_price: Decimal,
    original_amount: Decimal,
    remaining_amount: Decimal,
    levels_hit: int,
    batch_start_level: int,
    total_levels: int | None,
    moon_bag_activated: bool,
    moon_bag_amount: Decimal,
    price: Decimal,
) -> TakeProfitResult:
    """One tick of take profit.

    The moon bag is set aside only together with a sale: it exists to cap sales, so a tick
    that sells nothing has nothing to protect it from.
    """
    return take_profit_at_gain(
        cfg,
        gain_percent=percent_change(price, purchase_price),
        original_amount=original_amount,
        remaining_amount=remaining_amount,
        levels_hit=levels_hit,
        batch_start_level=batch_start_level,
        total_levels=total_levels,
        moon_bag_activated=moon_bag_activated,
        moon_bag_amount=moon_bag_amount,
    )


def take_profit_at_gain(
    cfg: TakeProfitConfig,
    *,
    gain_percent: Decimal,
    original_amount: Decimal,
    remaining_amount: Decimal,
    levels_hit: int,
    batch_start_level: int,
    total_levels: int | None,
    moon_bag_activated: bool,
    moon_bag_amount: Decimal,
) -> TakeProfitResult:
    """evaluate_take_profit for a caller that already knows the gain over the average price."""
    if not cfg.enabled:
        return _hold(levels_hit, remaining_amount, "take profit disabled")
    levels, moon_bag = cfg.resolved()
    batch_end = len(levels) if total_levels is None else total_levels
    first = levels_hit - batch_start_level
    if first < 0:
        raise ValueError(f"levels_hit {levels_hit} is before batch_start {batch_start_level}")
    if levels_hit >= batch_end or first >= len(levels):
        return _hold(levels_hit, remaining_amount, "take-profit levels exhausted")
    reached = _levels_reached(levels, first, batch_end - levels_hit, gain_percent)
    if reached == 0:
        return _hold(levels_hit, remaining_amount, "price below the next take-profit target")
    new_levels_hit = levels_hit + reached
    activate = (
        moon_bag.enabled
        and not moon_bag_activated
        and (gain_percent >= moon_bag.trigger_percent or new_levels_hit >= batch_end)
    )
    new_bag = _moon_bag_size(moon_bag, original_amount, remaining_amount) if activate else ZERO
    held_back = new_bag if activate else (moon_bag_amount if moon_bag_activated else ZERO)
    wanted = percent_of(original_amount, _sell_percent(levels, first, reached))
    sell = min(wanted, subtract(remaining_amount, held_back))
    if sell <= ZERO:
        return _hold(levels_hit, remaining_amount, "nothing to sell beyond the moon bag")
    left = subtract(remaining_amount, sell)
    # A sale never eats into the moon bag, so only a position without one can end as dust.
    close = left < DUST_TOKENS
    reason = f"take profit: {reached} level(s) reached, {new_levels_hit} of {batch_end} hit"
    return TakeProfitResult(
        True, reached, new_levels_hit, sell, activate, new_bag, left, close, reason
    )


def reset_after_dca(levels_hit: int, levels_count: int) -> tuple[int, int]:
    """(batch_start, total_levels) of the new batch that starts after a DCA buy."""
    return levels_hit, levels_hit + levels_count


def _hold(levels_hit: int, remaining: Decimal, reason: str) -> TakeProfitResult:
    return TakeProfitResult(False, 0, levels_hit, ZERO, False, ZERO, remaining, False, reason)


def _levels_reached(
    levels: tuple[TakeProfitLevel, ...], first: int, left_in_batch: int, gain: Decimal
) -> int:
    end = min(len(levels), first + left_in_batch)
    index = first
    while index < end and gain >= levels[index].target_percent:
        index += 1
    return index - first


def _sell_percent(levels: tuple[TakeProfitLevel, ...], first: int, count: int) -> Decimal:
    return sum((level.sell_percent for level in levels[first : first + count]), ZERO)


def _moon_bag_size(moon_bag: MoonBagConfig, original: Decimal, remaining: Decimal) -> Decimal:
    # Never more than is still held: the bag is set aside from what remains.
    return min(percent_of(original, moon_bag.retain_percent), remaining)


class TakeProfitRule:
    """The exit rule: sell the levels the gain reached, setting the moon bag aside."""

    section = "take_profit"
    kinds = (ActionKind.TAKE_PROFIT_SELL,)

    def apply(self, cfg: TakeProfitConfig, tick: Tick) -> None:
        if not cfg.enabled:
            return
        state = tick.state
        profit = take_profit_at_gain(
            cfg,
            gain_percent=tick.change,
            original_amount=state.total_tokens_bought,
            remaining_amount=tick.remaining,
            levels_hit=state.take_profit_levels_hit,
            batch_start_level=state.take_profit_batch_start,
            total_levels=state.take_profit_total_levels,
            moon_bag_activated=state.moon_bag_activated,
            moon_bag_amount=state.moon_bag_amount,
        )
        if not profit.execute:
            return
        tick.actions.append(
            Action(
                kind=ActionKind.TAKE_PROFIT_SELL,
                new_levels_hit=profit.new_levels_hit,
                token_amount=profit.sell_amount,
                levels=profit.levels,
                activate_moon_bag=profit.activate_moon_bag,
                moon_bag_amount=profit.moon_bag_amount,
                close_position=profit.close_position,
                reason=profit.reason,
            )
        )
        tick.remaining = profit.remaining
        tick.closed = profit.close_position

    def quiet(self, cfg: TakeProfitConfig, state, price: Decimal, now) -> Quiet | None:
        if not cfg.enabled:
            return ALWAYS_QUIET
        if state.take_profit_levels_hit < state.take_profit_batch_start:
            return None  # an inconsistent state: always evaluated (and refused loudly)
        levels, _ = cfg.resolved()
        batch_end = state.take_profit_total_levels
        if batch_end is None:
            batch_end = len(levels)
        first = state.take_profit_levels_hit - state.take_profit_batch_start
        if state.take_profit_levels_hit >= batch_end or first >= len(levels):
            return ALWAYS_QUIET  # no level left to reach
        return Quiet(high=price_at_change(state.purchase_price, levels[first].target_percent))
