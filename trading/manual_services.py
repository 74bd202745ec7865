"""Manual buys (POST trades/execute): an operator buys a token for an agent.

The buy is `position_buy`, as a signal's is, so a live agent's goes through its live venue.
It passes the guards a signal's buy passes (the kill switch, the agent's risk guards,
max_open_positions) and is refused before any swap for what a signal's fan-out would skip it
for (an inactive agent, no wallet, a position already open in the token, SOL under the
agent's minimum). The agent's signal filters (score, types, token lists) are not applied: they
choose which signals an agent follows, and here the operator chose the token.
"""

from dataclasses import dataclass
from decimal import Decimal

from rest_framework import status

from agents.config import ConfigValidationError, agent_config
from agents.models import Agent
from nexgent import money
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from prices.services import TokenUnknown, token_decimals
from trading.ledger_services import TradeRefused
from trading.models import ManualBuy, Position, Transaction
from trading.risk_selectors import WalletFacts, wallet_facts_load
from trading.risk_services import buy_guards_check_many
from trading.rules.sizing import SizingError
from trading.services import position_buy
from wallets.models import AgentWallet

# The model's column; with the prefix and the agent's id the ledger key fits its 100.
MANUAL_KEY_MAX_LENGTH = 64


@dataclass(frozen=True, slots=True)
class ManualBuyResult:
    position: Position
    transaction: Transaction
    created: bool  # False: a retry, answered with the trade the first request made


def trade_manual_buy(
    *,
    agent: Agent,
    token_address: str,
    sol_amount: Decimal | None = None,
    idempotency_key: str | None = None,
) -> ManualBuyResult:
    """Buy `token_address` for the agent: `sol_amount` SOL, or None to size the buy by the
    agent's rules. With an `idempotency_key`, a retry of the same buy answers the first one's
    trade and never buys again; the key for a different buy is refused (409
    idempotency_key_reused). Raises TradeRefused (409, its code the reason) or DomainError
    (400 token_unknown for a mint no market lists; 502 venue_unavailable when the market
    cannot be read)."""
    if sol_amount is not None:
        sol_amount = money.amount(sol_amount)
    ledger_key = None
    if idempotency_key:
        _request_claim(agent, idempotency_key, token_address, sol_amount)
        ledger_key = f"manual:{agent.pk}:{idempotency_key}"
        earlier = _earlier(ledger_key)
        if earlier is not None:
            return earlier
    try:
        facts = _checked_wallet(agent, token_address, sol_amount)
        bought = position_buy(
            agent=agent,
            wallet=AgentWallet.objects.get(pk=facts.wallet_id),
            token_address=token_address,
            sol_amount=sol_amount,
            sol_balance=facts.sol_balance,
            decimals=token_decimals(token_address),
            idempotency_key=ledger_key,
        )
    except TradeRefused:
        # A concurrent retry with the key may have written the trade first.
        earlier = _earlier(ledger_key) if ledger_key else None
        if earlier is not None:
            return earlier
        raise
    except SizingError as exc:
        raise TradeRefused(str(exc), code=exc.code) from None
    except ConfigValidationError as exc:
        raise TradeRefused(
            "the agent's config is not valid", code="config_invalid", details=exc.details
        ) from None
    except TokenUnknown:
        raise DomainError(
            "no market lists this token",
            code="token_unknown",
            details=[{"field": "token_address", "message": "no market lists this token"}],
        ) from None
    except ExternalServiceError as exc:
        raise DomainError(
            f"the market could not be read: {exc}",
            code="venue_unavailable",
            status_code=status.HTTP_502_BAD_GATEWAY,
        ) from None
    return ManualBuyResult(bought.position, bought.transaction, created=True)


def _request_claim(agent: Agent, key: str, token_address: str, sol_amount: Decimal | None):
    """Record what the key asks for, or check it asks what it asked the first time."""
    asked, _ = ManualBuy.objects.get_or_create(
        agent=agent,
        idempotency_key=key,
        defaults={"token_address": token_address, "sol_amount": sol_amount},
    )
    if (asked.token_address, asked.sol_amount) != (token_address, sol_amount):
        raise TradeRefused(
            "this Idempotency-Key was used for a different buy", code="idempotency_key_reused"
        )


def _earlier(ledger_key: str) -> ManualBuyResult | None:
    entry = Transaction.objects.select_related("position").filter(idempotency_key=ledger_key)
    found = entry.first()
    return None if found is None else ManualBuyResult(found.position, found, created=False)


def _checked_wallet(agent: Agent, token_address: str, sol_amount: Decimal | None) -> WalletFacts:
    """The agent's wallet of its trading mode, once every guard lets the buy go ahead."""
    if not agent.is_active:
        raise TradeRefused("the agent is not active", code="agent_inactive")
    facts = wallet_facts_load([agent]).get(agent.pk)
    if facts is None:
        raise TradeRefused(
            f"the agent has no {agent.trading_mode} wallet to buy with", code="no_wallet"
        )
    block = buy_guards_check_many(
        agents=[agent], wallets={agent.pk: facts}, opens_position=True
    ).get(agent.pk)
    if block is not None:
        figures = ", ".join(f"{name}: {value}" for name, value in block.details.items())
        raise TradeRefused(
            f"buy refused: {block.reason}" + (f" ({figures})" if figures else ""),
            code=block.reason,
        )
    if token_address in facts.open_tokens:
        raise TradeRefused(
            "the agent already has an open position in this token", code="position_exists"
        )
    minimum = agent_config(agent.config).purchase_limits.minimum_agent_balance
    needed = max(minimum, sol_amount or 0)
    if facts.sol_balance <= 0 or facts.sol_balance < needed:
        raise TradeRefused(
            f"SOL balance {money.as_str(facts.sol_balance)} is under the "
            f"{money.as_str(money.amount(needed))} this buy needs",
            code="insufficient_balance",
        )
    return facts
