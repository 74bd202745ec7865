"""Dollar-cost averaging (trading-rules.md section 6): buy more as the price falls.

Each level is measured from the CURRENT average price, which every DCA buy lowers.
"""

from decimal import Decimal
from typing import NamedTuple

from trading.rules.config import DcaConfig, DcaLevel
from trading.rules.decimal_math import ZERO, add, multiply, percent_change, percent_of, ratio


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
