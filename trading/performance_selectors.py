"""Reads for analytics (docs/analytics.md): an agent wallet's valuation at the latest prices,
its performance over a timeframe and its balance history, from the ledger and the balance
snapshots. The figures themselves are computed by trading.rules.performance."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from nexgent import money
from nexgent.money import as_str
from prices.selectors import latest_prices
from trading.models import BalanceSnapshot, ClosedTrade, Transaction, TransactionType
from trading.risk_selectors import wallet_holdings_load
from trading.rules import performance
from wallets.models import AgentWallet

TIMEFRAMES = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}


def timeframe_start(timeframe: str, now: datetime) -> datetime | None:
    """Where a timeframe begins; None for "all", which has no beginning."""
    length = TIMEFRAMES[timeframe]
    return None if length is None else now - length


def wallet_valuations(wallet_ids: list[int]) -> dict[int, performance.Valuation]:
    """Each wallet's SOL, open positions and equity at the latest known prices (a position
    whose token has no known price at its cost), keyed by wallet id, in two queries and one
    cache read."""
    facts = wallet_holdings_load(wallet_ids)
    mints = sorted({h.token_address for f in facts.values() for h in f.holdings})
    prices = {mint: latest.price_sol for mint, latest in latest_prices(mints).items()}
    return {
        wallet_id: performance.valuation(f.sol_balance, f.holdings, prices)
        for wallet_id, f in facts.items()
    }


def performance_report(*, wallet: AgentWallet, timeframe: str, now: datetime) -> dict:
    """GET agents/{id}/performance: the wallet's figures over the timeframe, as of `now`. The
    equity curve is the timeframe's snapshots followed by the equity now, so drawdown and
    Sharpe see the present too; five queries and one cache read."""
    start = timeframe_start(timeframe, now)
    value = wallet_valuations([wallet.pk])[wallet.pk]
    stats = performance.trade_stats(_trades(wallet, start))
    points = [*_equity_points(wallet, start), performance.EquityPoint(now, value.equity_sol)]
    transfers = _transfers(wallet, start)
    drawdown = performance.max_drawdown(points, transfers)
    sharpe = performance.sharpe_ratio(performance.daily_returns(points, transfers))
    return {
        "agent_id": wallet.agent_id,
        "trading_mode": wallet.mode,
        "timeframe": timeframe,
        "since": start.isoformat() if start else None,
        "as_of": now.isoformat(),
        "sol_balance": as_str(value.sol_balance),
        "positions_value_sol": as_str(money.amount(value.positions_value_sol)),
        "equity_sol": as_str(money.amount(value.equity_sol)),
        "unrealised_pnl_sol": as_str(money.amount(value.unrealised_pnl_sol)),
        "realised_pnl_sol": as_str(stats.realised_pnl_sol),
        "trades": {
            "count": stats.count,
            "wins": stats.wins,
            "losses": stats.losses,
            "breakeven": stats.breakeven,
            "gross_profit_sol": as_str(stats.gross_profit_sol),
            "gross_loss_sol": as_str(stats.gross_loss_sol),
            "win_rate_percent": _ratio(stats.win_rate_percent),
            "profit_factor": _ratio(stats.profit_factor),
            "average_return_percent": _ratio(stats.average_return_percent),
            "by_close_reason": stats.by_close_reason,
        },
        "sharpe_ratio": _ratio(sharpe.ratio),
        "daily_returns": sharpe.daily_returns,
        "max_drawdown_sol": as_str(money.amount(drawdown.sol)),
        "max_drawdown_percent": _ratio(drawdown.percent),
        "equity_points": len(points),
    }


def balance_history(*, wallet: AgentWallet, timeframe: str, limit: int, now: datetime) -> dict:
    """GET agents/{id}/balance-history: the timeframe's snapshots, oldest first. At most
    `limit` of them, the newest: `truncated` says older ones in the timeframe were left out."""
    start = timeframe_start(timeframe, now)
    rows = BalanceSnapshot.objects.filter(wallet=wallet)
    if start is not None:
        rows = rows.filter(taken_at__gte=start)
    newest = list(rows.order_by("-taken_at", "-pk")[: limit + 1])
    return {
        "agent_id": wallet.agent_id,
        "trading_mode": wallet.mode,
        "timeframe": timeframe,
        "since": start.isoformat() if start else None,
        "truncated": len(newest) > limit,
        "points": [_point_payload(row) for row in reversed(newest[:limit])],
    }


def _point_payload(snapshot: BalanceSnapshot) -> dict:
    return {
        "t": snapshot.taken_at.isoformat(),
        "sol_balance": as_str(snapshot.sol_balance),
        "positions_value_sol": as_str(snapshot.positions_value_sol),
        "equity_sol": as_str(snapshot.total_value_sol),
    }


def _ratio(value: Decimal | None) -> str | None:
    # Ten places, as percents are stored: the sixty digits they are computed to are noise.
    return as_str(money.percent(value)) if value is not None else None


def _trades(wallet: AgentWallet, start: datetime | None) -> list[performance.TradeResult]:
    rows = ClosedTrade.objects.filter(wallet=wallet)
    if start is not None:
        rows = rows.filter(closed_at__gte=start)
    return [
        performance.TradeResult(pnl, change, reason)
        for pnl, change, reason in rows.order_by().values_list(
            "profit_loss_sol", "change_percent", "close_reason"
        )
    ]


def _equity_points(wallet: AgentWallet, start: datetime | None) -> list[performance.EquityPoint]:
    rows = BalanceSnapshot.objects.filter(wallet=wallet)
    if start is not None:
        rows = rows.filter(taken_at__gte=start)
    return [
        performance.EquityPoint(taken_at, equity)
        for taken_at, equity in rows.order_by("taken_at", "pk").values_list(
            "taken_at", "total_value_sol"
        )
    ]


def _transfers(wallet: AgentWallet, start: datetime | None) -> list[performance.Transfer]:
    """Deposits (positive) and withdrawals (negative) in the timeframe; earlier ones shift
    every point of the curve alike, which neither drawdown nor a return sees."""
    rows = Transaction.objects.filter(
        wallet=wallet, type__in=[TransactionType.DEPOSIT, TransactionType.WITHDRAWAL]
    )
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    return [
        performance.Transfer(at, amount if kind == TransactionType.DEPOSIT else -amount)
        for at, kind, amount in rows.order_by().values_list("created_at", "type", "input_amount")
    ]


@dataclass(frozen=True, slots=True)
class WalletOverview:
    """A wallet's line on the dashboard's overview."""

    valuation: performance.Valuation
    realised_pnl_sol: dict[str, Decimal]  # by timeframe ("24h", "7d", "all")
    win_rate_percent: Decimal | None  # of every closed trade


OVERVIEW_TIMEFRAMES = ("24h", "7d", "all")


def wallets_overview(wallet_ids: list[int], now: datetime) -> dict[int, WalletOverview]:
    """Each wallet's equity, realised P/L over 24h, 7d and all time, and win rate, keyed by
    wallet id: three queries and one cache read whatever the number of wallets."""
    valuations = wallet_valuations(wallet_ids)
    trades: dict[int, list[tuple[datetime, performance.TradeResult]]] = defaultdict(list)
    rows = ClosedTrade.objects.filter(wallet_id__in=wallet_ids).order_by()
    for wallet_id, closed_at, pnl, change, reason in rows.values_list(
        "wallet_id", "closed_at", "profit_loss_sol", "change_percent", "close_reason"
    ):
        trades[wallet_id].append((closed_at, performance.TradeResult(pnl, change, reason)))
    overview = {}
    for wallet_id in wallet_ids:
        stats = {
            timeframe: performance.trade_stats(
                trade
                for closed_at, trade in trades[wallet_id]
                if (start := timeframe_start(timeframe, now)) is None or closed_at >= start
            )
            for timeframe in OVERVIEW_TIMEFRAMES
        }
        overview[wallet_id] = WalletOverview(
            valuation=valuations[wallet_id],
            realised_pnl_sol={name: s.realised_pnl_sol for name, s in stats.items()},
            win_rate_percent=stats["all"].win_rate_percent,
        )
    return overview
