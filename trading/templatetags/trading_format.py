"""Template filters of the trading pages."""

from django import template

from nexgent.money import as_str
from trading.history_selectors import close_reason_label, transaction_side

register = template.Library()


@register.filter
def close_reason(trade) -> str:
    """A closed trade's close reason in words (a stop that sold in profit: "Trailing stop")."""
    return close_reason_label(trade.close_reason, trade.profit_loss_sol)


@register.filter
def side(entry) -> str:
    """What a ledger entry did: "Buy", "DCA buy", "Sale", "Take-profit sale", "Deposit"..."""
    return transaction_side(entry)


@register.filter
def short_address(address: str) -> str:
    return f"{address[:4]}…{address[-4:]}" if len(address) > 10 else address


@register.filter
def exact(amount) -> str:
    """An exact decimal without its padding zeros ("0", "9853.012009"), as the API writes it."""
    return as_str(amount) or ""
