"""What trading tells operators (docs/notifications.md): a trade opened or closed, a live swap
that failed, a risk guard that tripped. Each is worded here from what the caller already holds,
so no query is added to the trade's path; agents.notification_services.notify queues it after
the trade's commit and finds the channels off that path."""

from datetime import datetime
from decimal import Decimal

from django.core.cache import cache

from agents.models import NotificationEvent
from agents.notification_services import notify
from nexgent.money import as_str
from trading.history_selectors import close_reason_label
from trading.live import SwapFailed
from trading.models import ClosedTrade, Position, RiskPause, RiskPauseReason

# A live swap that keeps failing is retried every tick (an exit) or by each signal: its
# operator hears of an action's failure once in this long, not at every try.
LIVE_FAILURE_QUIET_SECONDS = 3600
# Not failures: the outcome is still to come, or the action already happened.
_NOT_FAILED = frozenset({"swap_in_flight", "action_already_executed"})


def _token(symbol: str, mint: str) -> str:
    return symbol or f"{mint[:6]}…"


def _price(value: Decimal) -> str:
    """A price to 6 significant digits: a fill's exact price has 30."""
    return as_str(value.quantize(Decimal(1).scaleb(value.adjusted() - 5))) if value else "0"


def _signed(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "unknown"
    return f"{'+' if value > 0 else ''}{as_str(value)}{unit}"


def trade_opened_notify(*, owner_id: int, position: Position, mode: str) -> None:
    token = _token(position.token_symbol, position.token_address)
    notify(
        owner_id=owner_id,
        agent_id=position.agent_id,
        event=NotificationEvent.TRADE_OPENED,
        title=f"Trade opened: {token}",
        body=(
            f"Bought {as_str(position.total_tokens_bought)} {token} at "
            f"{_price(position.purchase_price)} SOL each for "
            f"{as_str(position.total_invested_sol)} SOL ({mode}). "
            f"Token {position.token_address}."
        ),
    )


def trade_closed_notify(*, owner_id: int, trade: ClosedTrade) -> None:
    token = _token(trade.token_symbol, trade.token_address)
    reason = close_reason_label(trade.close_reason, trade.profit_loss_sol)
    sale = (
        f"Sold {as_str(trade.tokens_bought)} {token} at {_price(trade.sale_price)} SOL each"
        if trade.sale_price is not None
        else f"Wrote off {as_str(trade.tokens_bought)} {token}"
    )
    notify(
        owner_id=owner_id,
        agent_id=trade.agent_id,
        event=NotificationEvent.TRADE_CLOSED,
        title=f"Trade closed: {token} ({reason})",
        body=(
            f"{sale}; invested {as_str(trade.invested_sol)} SOL, received "
            f"{as_str(trade.received_sol)} SOL. "
            f"P/L: {_signed(trade.profit_loss_sol, ' SOL')} "
            f"({_signed(trade.change_percent, '%')}). Reason: {reason}."
        ),
    )


def live_trade_failed_notify(
    *, owner_id: int, agent_id: int | None, side: str, mint: str, action: str, failed: SwapFailed
) -> None:
    """Once per action per LIVE_FAILURE_QUIET_SECONDS (a cache flag shared by every process)."""
    if failed.code in _NOT_FAILED:
        return
    if not cache.add(f"notify:live_failed:{action}", 1, timeout=LIVE_FAILURE_QUIET_SECONDS):
        return
    notify(
        owner_id=owner_id,
        agent_id=agent_id,
        event=NotificationEvent.LIVE_TRADE_FAILED,
        title=f"Live {side} failed: {_token('', mint)} ({failed.code})",
        body=(
            f"A live {side} of token {mint} did not go through: {failed.message}. Nothing was "
            "written to the ledger; an exit is tried again on the next tick."
        ),
    )


def risk_guard_tripped_notify(*, owner_id: int, pause: RiskPause, now: datetime) -> None:
    guard = RiskPauseReason(pause.reason).label
    until = f"until {pause.until:%Y-%m-%d %H:%M} UTC" if pause.until else "until it recovers"
    figures = ", ".join(f"{name}: {value}" for name, value in sorted(pause.details.items()))
    notify(
        owner_id=owner_id,
        agent_id=pause.agent_id,
        event=NotificationEvent.RISK_GUARD_TRIPPED,
        title=f"Risk guard tripped: {guard}",
        body=(
            f"New buys are paused {until} (since {now:%Y-%m-%d %H:%M} UTC); open positions "
            f"are still managed. {figures}".strip()
        ),
    )
