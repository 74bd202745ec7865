"""Reads of the trading ledger, and the JSON shapes they travel in."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from nexgent import money
from nexgent.money import as_str
from trading.models import Balance, ClosedTrade, Position, PositionStatus, Transaction


def stop_price(position: Position) -> Decimal:
    """Stop price from the AVERAGE purchase price (not the peak)."""
    return money.price(position.purchase_price * (1 + position.stop_loss_percent / 100))


def position_payload(position: Position, price_sol: Decimal | None = None) -> dict:
    value = unrealized = unrealized_pct = None
    if price_sol is not None and position.status == PositionStatus.OPEN:
        value = money.amount(position.remaining_amount * price_sol)
        cost = (
            money.divide(position.remaining_amount, position.total_tokens_bought)
            * position.total_invested_sol
        )
        unrealized = money.amount(value - cost)
        unrealized_pct = money.percent(money.divide(unrealized, cost) * 100)
    closed = (
        getattr(position, "closed_trade", None)
        if position.status == PositionStatus.CLOSED
        else None
    )
    return {
        "id": position.pk,
        "agent_id": position.agent_id,
        "token_address": position.token_address,
        "token_symbol": position.token_symbol,
        "status": position.status,
        "purchase_price": as_str(position.purchase_price),
        "total_invested_sol": as_str(position.total_invested_sol),
        "total_tokens_bought": as_str(position.total_tokens_bought),
        "remaining_amount": as_str(position.remaining_amount),
        "realized_sol": as_str(position.realized_sol),
        "current_price": as_str(price_sol),
        "value_sol": as_str(value),
        "unrealized_pnl_sol": as_str(unrealized),
        "unrealized_pnl_percent": as_str(unrealized_pct),
        "stop_loss_percent": as_str(position.stop_loss_percent),
        "stop_price": as_str(stop_price(position)),
        "peak_price": as_str(position.peak_price),
        "take_profit_levels_hit": position.take_profit_levels_hit,
        "moon_bag_activated": position.moon_bag_activated,
        "dca_count": position.dca_count,
        "opened_at": position.opened_at.isoformat(),
        "closed_at": position.closed_at.isoformat() if position.closed_at else None,
        "close_reason": position.close_reason,
        "closed_trade": closed_trade_payload(closed) if closed else None,
    }


def closed_trade_payload(trade) -> dict:
    return {
        "profit_loss_sol": as_str(trade.profit_loss_sol),
        "profit_loss_usd": as_str(trade.profit_loss_usd),
        "change_percent": as_str(trade.change_percent),
        "received_sol": as_str(trade.received_sol),
        "invested_sol": as_str(trade.invested_sol),
        "close_reason": trade.close_reason,
        "closed_at": trade.closed_at.isoformat(),
    }


def balance_payload(balance: Balance) -> dict:
    return {
        "token_address": balance.token_address,
        "token_symbol": balance.token_symbol,
        "amount": as_str(balance.amount),
    }


def wallet_balances(wallet_id: int) -> list[dict]:
    return [balance_payload(b) for b in Balance.objects.filter(wallet_id=wallet_id).order_by("id")]


def sol_balance(wallet_id: int) -> Decimal:
    value = (
        Balance.objects.filter(wallet_id=wallet_id, token_address=money.WSOL_MINT)
        .values_list("amount", flat=True)
        .first()
    )
    return value if value is not None else money.ZERO


def open_positions(agent_id: int):
    return Position.objects.filter(agent_id=agent_id, status=PositionStatus.OPEN).order_by("id")


def transactions_list(
    *,
    agent_id: int,
    type: str | None = None,
    token: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    position: int | None = None,
    signal: int | None = None,
    is_dca: bool | None = None,
    is_take_profit: bool | None = None,
) -> QuerySet[Transaction]:
    """The agent's ledger entries, newest first; each filter given narrows it. `token`: the
    entries that moved that mint, in or out; `since` inclusive, `until` exclusive."""
    exact = {
        "type": type,
        "position_id": position,
        "signal_id": signal,
        "is_dca": is_dca,
        "is_take_profit": is_take_profit,
        "created_at__gte": since,
        "created_at__lt": until,
    }
    rows = Transaction.objects.filter(
        agent_id=agent_id, **{name: value for name, value in exact.items() if value is not None}
    )
    if token is not None:
        rows = rows.filter(Q(input_mint=token) | Q(output_mint=token))
    return rows.order_by("-created_at", "-id")


def closed_trades_list(
    *,
    agent_id: int,
    close_reason: str | None = None,
    token: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[ClosedTrade]:
    """The agent's closed trades, newest close first; `since` inclusive, `until` exclusive."""
    exact = {
        "close_reason": close_reason,
        "token_address": token,
        "closed_at__gte": since,
        "closed_at__lt": until,
    }
    return ClosedTrade.objects.filter(
        agent_id=agent_id, **{name: value for name, value in exact.items() if value is not None}
    ).order_by("-closed_at", "-id")
