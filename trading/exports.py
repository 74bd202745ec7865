"""CSV export of an agent's closed trades (`GET agents/{id}/closed-trades?format=csv`): the
JSON list's columns, decimals exact as plain strings, times ISO 8601 UTC."""

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from nexgent.money import as_str
from trading.models import ClosedTrade

CLOSED_TRADE_COLUMNS = [
    "id",
    "position_id",
    "token_address",
    "token_symbol",
    "opened_at",
    "closed_at",
    "close_reason",
    "purchase_price",
    "sale_price",
    "tokens_bought",
    "invested_sol",
    "received_sol",
    "profit_loss_sol",
    "profit_loss_usd",
    "change_percent",
    "sol_usd",
]


def closed_trade_rows(trades: Iterable[ClosedTrade]) -> Iterator[list]:
    """The header, then one row per trade."""
    yield CLOSED_TRADE_COLUMNS
    for trade in trades:
        yield [_cell(getattr(trade, column)) for column in CLOSED_TRADE_COLUMNS]


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return as_str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
