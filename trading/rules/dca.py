"""Dollar-cost averaging (trading-rules.md section 6): buy more as the price falls.

Each level is measured from the CURRENT average price, which every DCA buy lowers.
"""

from decimal import Decimal
from typing import NamedTuple

from trading.rules.config import DcaConfig, DcaLevel
from trading.rules.decimal_math import (
    ZERO,
    add,
    multiply,
    percent_change,
    percent_of,
    price_at_change,
    ratio,
    seconds_between,
)
from trading.rules.exits import ALWAYS_QUIET, Action, ActionKind, Quiet, Tick


class DcaResult(NamedTuple):
    trigger: bool
    level: DcaLevel | None
    buy_amount_sol: Decimal
    reason: str


# Every refusal is the same value each time, so the per-tick path reuses these.
DISABLED = DcaResult(False, None, ZERO, "dca disabled")
ONLY_MOON_BAG = DcaResult(False, None, ZERO, "only the moon bag remains")
MAX_COUNT = DcaResult(False, None, ZERO, "max count reached")
COOLDOWN = DcaResult(False, None, ZERO, "cooldown since the last dca buy")
NO_LEVELS = DcaResult(False, None, ZERO, "no levels configured")
EXHAUSTED = DcaResult(False, None, ZERO, "dca levels exhausted")
NOT_DEEP_ENOUGH = DcaResult(False, None, ZERO, "price has not dropped to the next dca level")


class AverageResult(NamedTuple):
    average_price: Decimal
    total_tokens: Decimal
    total_invested_sol: Decimal


def evaluate_dca(
    cfg: DcaConfig,
    *,
    purchase_price: Decimal,
    remaining_amount: Decimal,
    dca_count: int,
    seconds_since_last_dca: Decimal | None,
    price: Decimal,
    only_moon_bag_left: bool = False,
) -> DcaResult:
    """Whether to buy more now, and for how much SOL.

    The wallet's balance is not checked here: the buyer must not spend SOL it does not have.
    """
    return dca_at_change(
        cfg,
        change_percent=percent_change(price, purchase_price),
        price=price,
        remaining_amount=remaining_amount,
        dca_count=dca_count,
        seconds_since_last_dca=seconds_since_last_dca,
        only_moon_bag_left=only_moon_bag_left,
    )


def dca_at_change(
    cfg: DcaConfig,
    *,
    change_percent: Decimal,
    price: Decimal,
    remaining_amount: Decimal,
    dca_count: int,
    seconds_since_last_dca: Decimal | None,
    only_moon_bag_left: bool,
) -> DcaResult:
    """evaluate_dca for a caller that already knows the price change from the average price."""
    blocked = _blocked(cfg, dca_count, seconds_since_last_dca, only_moon_bag_left)
    if blocked is not None:
        return blocked
    levels = cfg.resolved_levels()
    if not levels:
        return NO_LEVELS
    if dca_count >= len(levels):
        return EXHAUSTED
    level = levels[dca_count]
    if change_percent > level.drop_percent:
        return NOT_DEEP_ENOUGH
    buy = percent_of(multiply(price, remaining_amount), level.buy_percent)
    return DcaResult(True, level, buy, f"price dropped to dca level {dca_count + 1}")


def average_after_buy(
    existing_sol: Decimal, existing_tokens: Decimal, new_sol: Decimal, new_tokens: Decimal
) -> AverageResult:
    """The position after a buy: average price = everything invested / every token bought."""
    invested = add(existing_sol, new_sol)
    tokens = add(existing_tokens, new_tokens)
    return AverageResult(ratio(invested, tokens), tokens, invested)


def _blocked(
    cfg: DcaConfig, dca_count: int, seconds_since_last_dca: Decimal | None, only_moon_bag: bool
) -> DcaResult | None:
    if not cfg.enabled:
        return DISABLED
    if only_moon_bag:
        # The moon bag is kept for a moonshot, not averaged down.
        return ONLY_MOON_BAG
    if dca_count >= cfg.max_dca_count:
        return MAX_COUNT
    if seconds_since_last_dca is not None and seconds_since_last_dca < cfg.cooldown_seconds:
        return COOLDOWN
    return None


class DcaRule:
    """The exit rule's counterpart: buy more when the price falls to the next DCA level."""

    section = "dca"
    kinds = (ActionKind.DCA_BUY,)

    def apply(self, cfg: DcaConfig, tick: Tick) -> None:
        if not cfg.enabled:
            return
        state = tick.state
        since_last = (
            None if state.last_dca_at is None else seconds_between(state.last_dca_at, tick.now)
        )
        decision = dca_at_change(
            cfg,
            change_percent=tick.change,
            price=tick.price,
            remaining_amount=tick.remaining,
            dca_count=state.dca_count,
            seconds_since_last_dca=since_last,
            # The stored moon bag is the one that counts: a tick that takes profit (a gain of at
            # least 1%) cannot also reach a DCA level (a drop of at least 1%).
            only_moon_bag_left=state.moon_bag_activated and tick.remaining <= state.moon_bag_amount,
        )
        if decision.trigger:
            tick.actions.append(
                Action(
                    kind=ActionKind.DCA_BUY,
                    new_levels_hit=state.take_profit_levels_hit,
                    sol_amount=decision.buy_amount_sol,
                    reason=decision.reason,
                )
            )

    def quiet(self, cfg: DcaConfig, state, price: Decimal, now) -> Quiet:
        """Below the next level's price; the cooldown is ignored on purpose, so the range
        excludes the level whatever the time."""
        if not cfg.enabled or state.dca_count >= cfg.max_dca_count:
            return ALWAYS_QUIET
        if state.moon_bag_activated and state.remaining_amount <= state.moon_bag_amount:
            return ALWAYS_QUIET
        levels = cfg.resolved_levels()
        if state.dca_count >= len(levels):
            return ALWAYS_QUIET
        return Quiet(
            low=price_at_change(state.purchase_price, levels[state.dca_count].drop_percent)
        )
