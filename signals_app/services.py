"""Signals: creation, fan-out to eligible agents, and the per-agent buy."""

import logging
import random
from datetime import UTC, datetime, timedelta

from django.db import transaction
from rest_framework import status

from agents.config import effective_config, to_rule_config
from agents.eligibility import AgentFacts, SignalFacts, agent_skip_reason
from agents.models import Agent, ApiKey, User
from nexgent import money, realtime
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from prices.services import token_decimals
from signals_app.models import ExecutionStatus, SignalExecution, TradingSignal
from trading.models import Balance, Position, PositionStatus
from trading.rules.sizing import SizingError, impact_ladder, impact_ok, position_size
from trading.services import TradeRefused, position_record_buy
from trading.venues import venue_for
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(seconds=60)


def signal_create(
    *,
    owner: User,
    token_address: str,
    signal_type: str,
    signal_strength: int,
    symbol: str = "",
    activation_reason: str = "",
    source: str = "",
    api_key: ApiKey | None = None,
    idempotency_key: str | None = None,
) -> tuple[TradingSignal, bool]:
    """Record a signal and dispatch its fan-out after commit. Returns (signal, created).

    A repeated Idempotency-Key returns the first signal; an identical signal (same owner,
    token, type and strength) within 60 s is refused with 409.
    """
    from signals_app.tasks import signal_fan_out

    with transaction.atomic():
        # Serialise signal creation per owner, so the duplicate check cannot race.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        if idempotency_key:
            earlier = TradingSignal.objects.filter(
                owner=owner, idempotency_key=idempotency_key
            ).first()
            if earlier is not None:
                return earlier, False
        now = datetime.now(UTC)
        duplicate = TradingSignal.objects.filter(
            owner=owner,
            token_address=token_address,
            signal_type=signal_type,
            signal_strength=signal_strength,
            created_at__gte=now - DUPLICATE_WINDOW,
        ).first()
        if duplicate is not None:
            raise DomainError(
                f"an identical signal (#{duplicate.pk}) was received less than 60 s ago",
                code="duplicate_signal",
                status_code=status.HTTP_409_CONFLICT,
                details=[{"field": None, "message": f"duplicate of signal {duplicate.pk}"}],
            )
        signal = TradingSignal.objects.create(
            owner=owner,
            api_key=api_key,
            token_address=token_address,
            symbol=symbol,
            signal_type=signal_type,
            signal_strength=signal_strength,
            activation_reason=activation_reason,
            source=source,
            idempotency_key=idempotency_key,
            created_at=now,
        )
        transaction.on_commit(lambda: signal_fan_out.delay(signal.pk))
    return signal, True


def signal_fan_out(*, signal_id: int) -> list[int]:
    """Decide for every agent of the signal's owner, record each decision, and dispatch one
    buy task per eligible agent. Returns the ids of the agents dispatched."""
    from signals_app.tasks import signal_execute

    signal = TradingSignal.objects.get(pk=signal_id)
    facts = _agent_facts(signal.owner_id)
    signal_facts = SignalFacts(signal.token_address, signal.signal_type, signal.signal_strength)
    executions = []
    for fact in facts:
        reason = agent_skip_reason(signal_facts, fact)
        executions.append(
            SignalExecution(
                signal=signal,
                agent=fact.agent,
                status=ExecutionStatus.SKIPPED if reason else ExecutionStatus.PENDING,
                reason=reason or "",
            )
        )
    with transaction.atomic():
        # A retried fan-out finds the records already there and changes none of them.
        SignalExecution.objects.bulk_create(executions, ignore_conflicts=True)
        TradingSignal.objects.filter(pk=signal.pk).update(processed_at=datetime.now(UTC))
        pending = list(
            SignalExecution.objects.filter(
                signal=signal, status=ExecutionStatus.PENDING
            ).values_list("agent_id", flat=True)
        )
        for agent_id in pending:
            transaction.on_commit(lambda a=agent_id: signal_execute.delay(signal.pk, a))
    return pending


def _agent_facts(owner_id: int) -> list[AgentFacts]:
    agents = list(Agent.objects.filter(owner_id=owner_id).order_by("pk"))
    wallets = {
        (w.agent_id, w.mode): w for w in AgentWallet.objects.filter(agent__owner_id=owner_id)
    }
    balances = {
        row["wallet_id"]: row["amount"]
        for row in Balance.objects.filter(
            wallet__agent__owner_id=owner_id, token_address=money.WSOL_MINT
        ).values("wallet_id", "amount")
    }
    open_tokens: dict[tuple[int, int], set[str]] = {}
    for agent_id, wallet_id, token in Position.objects.filter(
        agent__owner_id=owner_id, status=PositionStatus.OPEN
    ).values_list("agent_id", "wallet_id", "token_address"):
        open_tokens.setdefault((agent_id, wallet_id), set()).add(token)
    facts = []
    for agent in agents:
        wallet = wallets.get((agent.pk, agent.trading_mode))
        wallet_id = wallet.pk if wallet else None
        facts.append(
            AgentFacts(
                agent=agent,
                config=effective_config(agent.config),
                has_wallet=wallet is not None,
                sol_balance=balances.get(wallet_id, money.ZERO),
                open_tokens=frozenset(open_tokens.get((agent.pk, wallet_id), ())),
            )
        )
    return facts


def signal_execute(*, signal_id: int, agent_id: int) -> SignalExecution:
    """Buy for one agent. The PENDING -> EXECUTING claim makes a second delivery a no-op, and
    the buy's idempotency key makes a crashed-and-retried claim unable to buy twice."""
    claimed = SignalExecution.objects.filter(
        signal_id=signal_id, agent_id=agent_id, status=ExecutionStatus.PENDING
    ).update(status=ExecutionStatus.EXECUTING)
    execution = SignalExecution.objects.select_related("signal", "agent").get(
        signal_id=signal_id, agent_id=agent_id
    )
    if not claimed:
        return execution
    try:
        _buy_for(execution)
    except (SizingError, TradeRefused) as refusal:
        _finish(execution, ExecutionStatus.SKIPPED, reason=refusal.code)
    except ExternalServiceError as exc:
        _finish(execution, ExecutionStatus.FAILED, reason="venue_error", error=str(exc))
    except Exception as exc:
        logger.exception("signal %s agent %s: buy failed", signal_id, agent_id)
        _finish(execution, ExecutionStatus.FAILED, reason="internal_error", error=repr(exc))
    return execution


def _buy_for(execution: SignalExecution) -> None:
    signal, agent = execution.signal, execution.agent
    wallet = AgentWallet.objects.get(agent=agent, mode=agent.trading_mode)
    config = effective_config(agent.config)
    rules = to_rule_config(config)
    balance = Balance.objects.filter(wallet=wallet, token_address=money.WSOL_MINT).first()
    size = position_size(
        rules.sizing,
        rules.purchase_limits,
        balance.amount if balance else money.ZERO,
        rng=random.Random(),
    )
    venue = venue_for(wallet)
    decimals = token_decimals(signal.token_address)
    quote = None
    for candidate in impact_ladder(size.size_sol):
        attempt = venue.quote_buy(
            mint=signal.token_address, decimals=decimals, sol_amount=candidate
        )
        if impact_ok(attempt.price_impact, rules.purchase_limits.max_price_impact):
            quote = attempt
            break
    if quote is None:
        raise TradeRefused(
            "price impact above max_price_impact at every size", code="price_impact_too_high"
        )
    result = position_record_buy(
        agent=agent,
        wallet=wallet,
        token_address=signal.token_address,
        token_symbol=signal.symbol,
        decimals=decimals,
        fill=venue.execute(quote),
        stop_loss_percent=rules.stop_loss.default_percentage,
        signal_id=signal.pk,
        idempotency_key=f"buy:{signal.pk}:{agent.pk}",
    )
    execution.transaction = result.transaction
    execution.position = result.position
    _finish(execution, ExecutionStatus.EXECUTED)


def _finish(
    execution: SignalExecution, status_value: str, *, reason: str = "", error: str = ""
) -> None:
    execution.status = status_value
    execution.reason = reason
    execution.error = error[:2000]
    execution.save(
        update_fields=["status", "reason", "error", "transaction", "position", "updated_at"]
    )
    signal = execution.signal
    realtime.signal_execution(
        execution.agent_id,
        {
            "signal_id": signal.pk,
            "token_address": signal.token_address,
            "token_symbol": signal.symbol,
            "signal_type": signal.signal_type,
            "status": status_value,
            "reason": reason,
            "created_at": execution.created_at.isoformat(),
        },
    )
