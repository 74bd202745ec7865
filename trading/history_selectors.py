"""Reads for the trading pages: an agent's closed trades and ledger entries filtered and paged,
the same rows as CSV, and one position's price history with its trades for the chart. The
words for a close reason live here only (close_reason_label), for every page that shows one."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet

from agents.config import agent_rules
from nexgent.money import WSOL_MINT, as_str
from prices.models import PriceSample
from trading.models import ClosedTrade, CloseReason, Position, PositionStatus, Transaction
from trading.rules.decimal_math import price_at_change
from trading.selectors import stop_price

# A stop that sold above the average entry locked in a gain: the stop trailed the price up.
TRAILING_STOP = "trailing_stop"
CLOSE_REASON_WORDS = {
    TRAILING_STOP: "Trailing stop",
    CloseReason.STOP_LOSS: "Stop loss",
    CloseReason.TAKE_PROFIT: "Take profit",
    CloseReason.STALE_TRADE: "Stale",
    CloseReason.RUG_PULL: "Rug write-off",
    CloseReason.SIGNAL: "Sell signal",
    CloseReason.AI: "AI strategist",
    CloseReason.MANUAL: "Manual",
}
# The most price samples a position's chart draws: the newest, about an hour at a 1 s tick.
CHART_SAMPLES = 4000


def close_kind(close_reason: str, profit_loss_sol: Decimal | None) -> str:
    """The close reason as an operator reads it: a stop loss that made a profit is a trailing
    stop."""
    if (
        close_reason == CloseReason.STOP_LOSS
        and profit_loss_sol is not None
        and profit_loss_sol > 0
    ):
        return TRAILING_STOP
    return close_reason


def close_reason_label(close_reason: str, profit_loss_sol: Decimal | None) -> str:
    kind = close_kind(close_reason, profit_loss_sol)
    return CLOSE_REASON_WORDS.get(kind, kind.replace("_", " ").capitalize())


def close_reason_words() -> dict:
    """The words and the trailing-stop rule's name, for the page script that adds closed trades
    live (static/dashboard/app.js)."""
    return {"words": {str(k): v for k, v in CLOSE_REASON_WORDS.items()}, "trailing": TRAILING_STOP}


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """What the trades and transactions pages filter on; empty fields filter nothing. `kind`
    is a close kind (close_kind) for trades and a transaction type for transactions; the date
    range is whole UTC days, both ends included."""

    kind: str = ""
    token: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _in_days(rows: QuerySet, field: str, spec: HistoryFilter) -> QuerySet:
    if spec.date_from is not None:
        rows = rows.filter(**{f"{field}__gte": _day_start(spec.date_from)})
    if spec.date_to is not None:
        rows = rows.filter(**{f"{field}__lt": _day_start(spec.date_to + dt.timedelta(days=1))})
    return rows


def closed_trades_filtered(agent_id: int, spec: HistoryFilter) -> QuerySet:
    """The agent's closed trades matching `spec`, newest first."""
    rows = ClosedTrade.objects.filter(agent_id=agent_id)
    if spec.kind == TRAILING_STOP:
        rows = rows.filter(close_reason=CloseReason.STOP_LOSS, profit_loss_sol__gt=0)
    elif spec.kind == CloseReason.STOP_LOSS:
        rows = rows.filter(close_reason=CloseReason.STOP_LOSS, profit_loss_sol__lte=0)
    elif spec.kind:
        rows = rows.filter(close_reason=spec.kind)
    if spec.token:
        rows = rows.filter(Q(token_address=spec.token) | Q(token_symbol__iexact=spec.token))
    return _in_days(rows, "closed_at", spec).order_by("-closed_at", "-id")


def transactions_filtered(agent_id: int, spec: HistoryFilter) -> QuerySet:
    """The agent's ledger entries matching `spec`, newest first."""
    rows = Transaction.objects.filter(agent_id=agent_id)
    if spec.kind:
        rows = rows.filter(type=spec.kind)
    if spec.token:
        rows = rows.filter(
            Q(input_mint=spec.token)
            | Q(output_mint=spec.token)
            | Q(input_symbol__iexact=spec.token)
            | Q(output_symbol__iexact=spec.token)
        )
    return _in_days(rows, "created_at", spec).order_by("-created_at", "-id")


@dataclass(frozen=True, slots=True)
class Page:
    rows: list
    offset: int
    limit: int
    has_next: bool

    @property
    def first_number(self) -> int:
        return self.offset + 1 if self.rows else 0

    @property
    def last_number(self) -> int:
        return self.offset + len(self.rows)


def page_of(rows: QuerySet, *, limit: int, offset: int) -> Page:
    """One page of `rows`, read with one more row than shown to know whether another follows."""
    found = list(rows[offset : offset + limit + 1])
    return Page(rows=found[:limit], offset=offset, limit=limit, has_next=len(found) > limit)


# One layout for every closed-trades CSV (the dashboard's export and the API's ?format=csv): the
# API list's fields, in its order, plus the close reason in words after its code.
TRADE_CSV_COLUMNS = [
    "id",
    "position_id",
    "token_address",
    "token_symbol",
    "opened_at",
    "closed_at",
    "close_reason",
    "close_reason_label",
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
TRANSACTION_CSV_COLUMNS = [
    "id",
    "created_at",
    "type",
    "position_id",
    "input_mint",
    "input_symbol",
    "input_amount",
    "output_mint",
    "output_symbol",
    "output_amount",
    "price",
    "protocol_fee_sol",
    "network_fee_sol",
    "cost_basis_sol",
    "profit_loss_sol",
    "is_dca",
    "is_take_profit",
    "tx_signature",
]


def _decimal(value: Decimal | None) -> str:
    return as_str(value) or ""


def trade_csv_rows(rows: QuerySet) -> Iterator[list[str]]:
    """The header, then one row per closed trade: decimals exact, times ISO 8601 UTC (the
    writer, nexgent.csv_export, guards text cells against spreadsheet formulas)."""
    yield TRADE_CSV_COLUMNS
    for trade in rows.iterator(chunk_size=500):
        yield [
            str(trade.pk),
            str(trade.position_id),
            trade.token_address,
            trade.token_symbol,
            trade.opened_at.isoformat(),
            trade.closed_at.isoformat(),
            trade.close_reason,
            close_reason_label(trade.close_reason, trade.profit_loss_sol),
            _decimal(trade.purchase_price),
            _decimal(trade.sale_price),
            _decimal(trade.tokens_bought),
            _decimal(trade.invested_sol),
            _decimal(trade.received_sol),
            _decimal(trade.profit_loss_sol),
            _decimal(trade.profit_loss_usd),
            _decimal(trade.change_percent),
            _decimal(trade.sol_usd),
        ]


def transaction_csv_rows(rows: QuerySet) -> Iterator[list[str]]:
    """The header, then one row per ledger entry: decimals exact, times ISO 8601 UTC."""
    yield TRANSACTION_CSV_COLUMNS
    for entry in rows.iterator(chunk_size=500):
        yield [
            str(entry.pk),
            entry.created_at.isoformat(),
            entry.type,
            str(entry.position_id or ""),
            entry.input_mint,
            entry.input_symbol,
            _decimal(entry.input_amount),
            entry.output_mint,
            entry.output_symbol,
            _decimal(entry.output_amount),
            _decimal(entry.price),
            _decimal(entry.protocol_fee_sol),
            _decimal(entry.network_fee_sol),
            _decimal(entry.cost_basis_sol),
            _decimal(entry.profit_loss_sol),
            "true" if entry.is_dca else "false",
            "true" if entry.is_take_profit else "false",
            entry.tx_signature,
        ]


def transaction_side(entry: Transaction) -> str:
    """What a ledger entry did, in words: a swap from SOL is a buy (or a DCA buy), one to SOL a
    sale (or a take-profit sale)."""
    if entry.type != "SWAP":
        return entry.get_type_display().capitalize()
    if entry.input_mint == WSOL_MINT:
        return "DCA buy" if entry.is_dca else "Buy"
    return "Take-profit sale" if entry.is_take_profit else "Sale"


def position_transactions(position: Position) -> list[Transaction]:
    return list(Transaction.objects.filter(position=position).order_by("created_at", "id"))


def _marker(entry: Transaction) -> dict:
    side = transaction_side(entry)
    return {
        "t": entry.created_at.isoformat(),
        "price": as_str(entry.price),
        "kind": "buy" if side in ("Buy", "DCA buy") else "sell",
        "text": side,
    }


def position_chart(position: Position, entries: list[Transaction]) -> dict:
    """The position's chart, JSON-ready with decimals as strings: its token's recorded prices
    from its opening (the newest CHART_SAMPLES of them), its trades' prices among them so every
    marker sits on the line, a marker per buy, DCA and sale, and the entry, stop and
    take-profit prices as lines (stop and take profit while it is open)."""
    samples = PriceSample.objects.filter(
        token_address=position.token_address, observed_at__gte=position.opened_at
    )
    if position.closed_at is not None:
        samples = samples.filter(observed_at__lte=position.closed_at)
    newest = samples.order_by("-observed_at", "-id").values_list("observed_at", "price_sol")[
        :CHART_SAMPLES
    ]
    swaps = [entry for entry in entries if entry.type == "SWAP" and entry.price is not None]
    points = sorted(
        [(at, price) for at, price in newest] + [(e.created_at, e.price) for e in swaps],
        key=lambda point: point[0],
    )
    lines = [{"name": "Entry", "kind": "entry", "price": as_str(position.purchase_price)}]
    if position.status == PositionStatus.OPEN:
        lines.append({"name": "Stop", "kind": "stop", "price": as_str(stop_price(position))})
        lines += [
            {"name": f"TP +{as_str(level.target_percent)}%", "kind": "take-profit", "price": p}
            for level, p in _take_profit_prices(position)
        ]
    return {
        "points": [{"t": at.isoformat(), "price": as_str(price)} for at, price in points],
        "markers": [_marker(entry) for entry in swaps],
        "lines": lines,
    }


def _take_profit_prices(position: Position) -> list[tuple]:
    """The take-profit levels of the current batch not hit yet, with their prices."""
    config = agent_rules(position.agent.config).take_profit
    if not config.enabled:
        return []
    levels, _ = config.resolved()
    done = position.take_profit_levels_hit - position.take_profit_batch_start
    return [
        (level, as_str(price_at_change(position.purchase_price, level.target_percent)))
        for level in levels[max(done, 0) :]
    ]
