"""Realised profit and loss (trading-rules.md section 7)."""

from decimal import Decimal
from typing import NamedTuple

from trading.rules.decimal_math import (
    HUNDRED,
    multiply,
    percent_change,
    ratio,
    subtract,
)


class FullClosePnl(NamedTuple):
    profit_loss_sol: Decimal
    change_percent: Decimal
    profit_loss_usd: Decimal | None


class PartialSalePnl(NamedTuple):
    cost_basis_sol: Decimal
    profit_loss_sol: Decimal
    change_percent: Decimal
    profit_loss_usd: Decimal | None


def full_close_pnl(
    *,
    invested_sol: Decimal,
    received_sol: Decimal,
    cost_basis_sol: Decimal,
    sol_usd: Decimal | None,
) -> FullClosePnl:
    """Cash flow of the whole position: everything received (take-profit sales included)
    minus everything invested; the change is measured against the cost basis."""
    profit = subtract(received_sol, invested_sol)
    change = ratio(multiply(profit, HUNDRED), cost_basis_sol)
    return FullClosePnl(profit, change, _in_usd(profit, sol_usd))


def partial_sale_pnl(
    *,
    invested_sol: Decimal,
    total_tokens: Decimal,
    tokens_sold: Decimal,
    net_sol: Decimal,
    purchase_price: Decimal,
    sale_price: Decimal,
    sol_usd: Decimal | None,
) -> PartialSalePnl:
    """One take-profit sale: its share of the investment against its net proceeds.

    The change is the price move from the average purchase price to the sale price
    (conformance/pnl.json), so it is reported even when no cost basis was recorded.
    """
    cost_basis = ratio(multiply(tokens_sold, invested_sol), total_tokens)
    profit = subtract(net_sol, cost_basis)
    change = percent_change(sale_price, purchase_price)
    return PartialSalePnl(cost_basis, profit, change, _in_usd(profit, sol_usd))


def _in_usd(sol: Decimal, sol_usd: Decimal | None) -> Decimal | None:
    return None if sol_usd is None else multiply(sol, sol_usd)
