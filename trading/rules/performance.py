"""An agent wallet's performance (GET agents/{id}/performance) as pure functions over values
the selectors load: closed trades, open holdings with their prices, and the equity curve from
balance snapshots. Exact decimals throughout, computed in decimal_math's context (the square
root of Sharpe's variance included), never through float. The definitions, and the choices
made where a figure has more than one common meaning, are in docs/analytics.md.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise

from trading.rules.decimal_math import CONTEXT, HUNDRED, ZERO, add, divide, multiply, subtract
from trading.rules.exits import CloseReason
from trading.rules.risk import Holding, LedgerFacts, equity_sol


@dataclass(frozen=True, slots=True)
class TradeResult:
    """One closed trade, as the trade figures read it."""

    profit_loss_sol: Decimal
    change_percent: Decimal
    close_reason: str


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The wallet's equity (SOL plus open positions at their prices) at a moment."""

    at: datetime
    equity_sol: Decimal


@dataclass(frozen=True, slots=True)
class Transfer:
    """SOL moved into (positive) or out of (negative) the wallet: a deposit or withdrawal."""

    at: datetime
    amount_sol: Decimal


@dataclass(frozen=True, slots=True)
class TradeStats:
    count: int
    wins: int
    losses: int
    breakeven: int
    realised_pnl_sol: Decimal
    gross_profit_sol: Decimal
    gross_loss_sol: Decimal  # a positive amount: the sum of the losing trades' losses
    win_rate_percent: Decimal | None  # None without trades
    profit_factor: Decimal | None  # None without a losing trade
    average_return_percent: Decimal | None  # None without trades
    by_close_reason: dict[str, int]


@dataclass(frozen=True, slots=True)
class Valuation:
    sol_balance: Decimal
    positions_value_sol: Decimal
    equity_sol: Decimal
    unrealised_pnl_sol: Decimal


@dataclass(frozen=True, slots=True)
class Drawdown:
    sol: Decimal
    percent: Decimal


@dataclass(frozen=True, slots=True)
class Sharpe:
    ratio: Decimal | None  # None with fewer than two daily returns, or returns that never vary
    daily_returns: int


def trade_stats(trades: Iterable[TradeResult]) -> TradeStats:
    """Win rate, profit factor, average return and realised P/L of closed trades. A trade that
    closed at exactly zero P/L is neither a win nor a loss, but it is a trade: it counts in the
    win rate's denominator and in the average return."""
    trades = list(trades)
    by_reason = {reason.value: 0 for reason in CloseReason}
    gross_profit = gross_loss = total_change = ZERO
    wins = losses = 0
    for trade in trades:
        by_reason[trade.close_reason] = by_reason.get(trade.close_reason, 0) + 1
        total_change = add(total_change, trade.change_percent)
        if trade.profit_loss_sol > ZERO:
            wins += 1
            gross_profit = add(gross_profit, trade.profit_loss_sol)
        elif trade.profit_loss_sol < ZERO:
            losses += 1
            gross_loss = subtract(gross_loss, trade.profit_loss_sol)
    count = len(trades)
    return TradeStats(
        count=count,
        wins=wins,
        losses=losses,
        breakeven=count - wins - losses,
        realised_pnl_sol=subtract(gross_profit, gross_loss),
        gross_profit_sol=gross_profit,
        gross_loss_sol=gross_loss,
        win_rate_percent=divide(multiply(wins, HUNDRED), count) if count else None,
        profit_factor=divide(gross_profit, gross_loss) if gross_loss else None,
        average_return_percent=divide(total_change, count) if count else None,
        by_close_reason=by_reason,
    )


def valuation(
    sol_balance: Decimal, holdings: Sequence[Holding], prices: Mapping[str, Decimal]
) -> Valuation:
    """Equity and unrealised P/L at the given prices. A holding without a price is valued at
    its cost, as the drawdown guard values it: a missing price is neither a gain nor a loss."""
    equity = equity_sol(
        LedgerFacts(sol_balance=sol_balance, holdings=tuple(holdings), prices=prices)
    )
    unrealised = ZERO
    for holding in holdings:
        price = prices.get(holding.token_address)
        if price is not None:
            value = multiply(holding.remaining, price)
            unrealised = add(unrealised, subtract(value, holding.cost_sol()))
    return Valuation(
        sol_balance=sol_balance,
        positions_value_sol=subtract(equity, sol_balance),
        equity_sol=equity,
        unrealised_pnl_sol=unrealised,
    )


def _results(
    points: Sequence[EquityPoint], transfers: Sequence[Transfer]
) -> list[tuple[EquityPoint, Decimal]]:
    """Each point (oldest first) with its equity less the SOL transferred in up to then, so a
    deposit is not a gain and a withdrawal is not a loss. Transfers before the first point
    shift every result alike, which no difference of results sees."""
    ordered = sorted(transfers, key=lambda transfer: transfer.at)
    moved, next_transfer, found = ZERO, 0, []
    for point in sorted(points, key=lambda point: point.at):
        while next_transfer < len(ordered) and ordered[next_transfer].at <= point.at:
            moved = add(moved, ordered[next_transfer].amount_sol)
            next_transfer += 1
        found.append((point, subtract(point.equity_sol, moved)))
    return found


def max_drawdown(points: Sequence[EquityPoint], transfers: Sequence[Transfer] = ()) -> Drawdown:
    """The largest fall of equity from a running peak, net of transfers: in SOL, and in percent
    of the equity at the peak it fell from. Each is the largest of its own kind; the two may
    come from different falls. Zero when equity never fell."""
    worst_sol = worst_percent = ZERO
    peak_result = peak_equity = None
    for point, result in _results(points, transfers):
        # A result equal to the peak moves it too: after a withdrawal, the same result stands
        # on less equity, and the next fall is a larger share of what the wallet holds.
        if peak_result is None or result >= peak_result:
            peak_result, peak_equity = result, point.equity_sol
            continue
        fall = subtract(peak_result, result)
        worst_sol = max(worst_sol, fall)
        if peak_equity > ZERO:
            worst_percent = max(worst_percent, divide(multiply(fall, HUNDRED), peak_equity))
    return Drawdown(sol=worst_sol, percent=worst_percent)


def daily_returns(
    points: Sequence[EquityPoint], transfers: Sequence[Transfer] = ()
) -> list[Decimal]:
    """One return per UTC day after the first: from the previous day's close (its last point)
    to this day's close, net of the transfers between them, as a fraction of the previous
    close. Days without a point are skipped (the next return spans them); a day after a close
    at zero equity or less has no return."""
    closes: dict[date, tuple[EquityPoint, Decimal]] = {}
    for point, result in _results(points, transfers):
        closes[point.at.astimezone(UTC).date()] = (point, result)
    found = []
    for before, after in pairwise(sorted(closes)):
        (previous, previous_result), (_, result) = closes[before], closes[after]
        if previous.equity_sol > ZERO:
            found.append(divide(subtract(result, previous_result), previous.equity_sol))
    return found


def sharpe_ratio(returns: Sequence[Decimal]) -> Sharpe:
    """Mean daily return over its sample standard deviation (n - 1), with no risk-free rate and
    not annualised."""
    count = len(returns)
    if count < 2:
        return Sharpe(None, count)
    mean = divide(_total(returns), count)
    deviations = [subtract(r, mean) for r in returns]
    variance = divide(_total(multiply(d, d) for d in deviations), count - 1)
    if variance == ZERO:
        return Sharpe(None, count)
    return Sharpe(divide(mean, CONTEXT.sqrt(variance)), count)


def _total(values: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for value in values:
        total = add(total, value)
    return total
