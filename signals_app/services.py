"""Signals: creation, fan-out to eligible agents, and the per-agent buy."""

import json
import logging
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.db import transaction
from rest_framework import status

from agents.config import effective_config, to_rule_config
from agents.eligibility import (
    KILL_SWITCH_REASONS,
    AgentFacts,
    SignalFacts,
    agent_blocked_reason,
    agent_skip_reason,
    metric_bounds_set,
    skip_details,
)
from agents.models import Agent, ApiKey, User
from agents.risk_selectors import (
    kill_switch_mode,
    pause_payload,
    risk_subjects,
    wallet_facts_load,
)
from agents.risk_services import buy_guards_check, risk_guards_apply
from nexgent import money, realtime
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from prices.services import token_decimals
from signals_app.models import ExecutionStatus, SignalExecution, TradingSignal
from signals_app.token_metrics import token_metrics_fetch
from trading.models import Balance
from trading.rules.sizing import SizingError, impact_ladder, impact_ok, position_size
from trading.services import TradeRefused, position_record_buy
from trading.venues import venue_for
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(seconds=60)
# Enough for every distinct agent configuration of a busy engine.
_CONFIG_CACHE_SIZE = 1024


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


def signal_fan_out(*, signal_id: int, now: datetime | None = None) -> list[int]:
    """Decide for every agent of the signal's owner in one pass, record each decision with its
    reason, and dispatch one buy task per eligible agent after commit. Returns the ids of the
    agents dispatched.

    The number of queries does not grow with the number of agents, and the token metrics are
    fetched at most once (tests/signals/test_fan_out.py). A redelivered fan-out finds the
    decisions already recorded and changes none of them.
    """
    from signals_app.tasks import signal_execute

    now = now or datetime.now(UTC)
    signal = TradingSignal.objects.get(pk=signal_id)
    signal_facts, facts = _decision_facts(signal, now)
    executions = [_decision(signal, signal_facts, fact) for fact in facts]
    if any(e.status == ExecutionStatus.PENDING for e in executions):
        _token_decimals_warm(signal.token_address)
    with transaction.atomic():
        SignalExecution.objects.bulk_create(executions, ignore_conflicts=True)
        TradingSignal.objects.filter(pk=signal.pk).update(processed_at=now)
        pending = list(
            SignalExecution.objects.filter(
                signal=signal, status=ExecutionStatus.PENDING
            ).values_list("agent_id", flat=True)
        )
        for agent_id in pending:
            # Robust: in the in-process modes a task that raises must not stop the next ones.
            transaction.on_commit(
                lambda a=agent_id: signal_execute.delay(signal.pk, a), robust=True
            )
    return pending


def _token_decimals_warm(mint: str) -> None:
    """Look the token's decimals up once, before the buys: otherwise every agent's buy of a
    new token asks Jupiter at the same moment, and a big fan-out spends the request budget."""
    try:
        token_decimals(mint)
    except ExternalServiceError as exc:
        # Each buy will try again, and record its own failure if it still cannot know.
        logger.warning("signal token %s: decimals unknown before the buys: %s", mint, exc)


def _decision_facts(signal: TradingSignal, now: datetime) -> tuple[SignalFacts, list[AgentFacts]]:
    """Everything the eligibility rules read, for all the owner's agents at once. Risk guards
    are evaluated (and pauses recorded) only for agents that could otherwise trade, and token
    metrics fetched only if one of those that is not paused sets a bound."""
    agents = list(Agent.objects.filter(owner_id=signal.owner_id).order_by("pk"))
    configs = {agent.pk: _config(agent.config) for agent in agents}
    wallets = wallet_facts_load(agents, owner_id=signal.owner_id)
    facts = [_agent_facts(agent, configs[agent.pk], wallets.get(agent.pk)) for agent in agents]
    kill_switch = kill_switch_mode()
    if kill_switch in KILL_SWITCH_REASONS:
        return _signal_facts(signal, None, kill_switch), facts
    candidates = [fact.agent for fact in facts if agent_blocked_reason(fact) is None]
    pauses = risk_guards_apply(subjects=risk_subjects(candidates, wallets, configs), now=now)
    facts = [
        replace(fact, risk_pause=pause_payload(pauses[fact.agent.pk]))
        if fact.agent.pk in pauses
        else fact
        for fact in facts
    ]
    wants_metrics = any(
        metric_bounds_set(configs[agent.pk]) for agent in candidates if agent.pk not in pauses
    )
    metrics = token_metrics_fetch(signal.token_address) if wants_metrics else None
    return _signal_facts(signal, metrics, kill_switch), facts


def _signal_facts(signal: TradingSignal, metrics, kill_switch: str) -> SignalFacts:
    return SignalFacts(
        signal.token_address,
        signal.signal_type,
        signal.signal_strength,
        token_metrics=metrics,
        kill_switch=kill_switch,
    )


def _agent_facts(agent: Agent, config, wallet) -> AgentFacts:
    return AgentFacts(
        agent=agent,
        config=config,
        has_wallet=wallet is not None,
        sol_balance=wallet.sol_balance if wallet else money.ZERO,
        open_tokens=wallet.open_tokens if wallet else frozenset(),
    )


def _decision(signal: TradingSignal, signal_facts: SignalFacts, facts: AgentFacts):
    reason = agent_skip_reason(signal_facts, facts)
    return SignalExecution(
        signal=signal,
        agent=facts.agent,
        status=ExecutionStatus.SKIPPED if reason else ExecutionStatus.PENDING,
        reason=reason or "",
        details=skip_details(reason, signal_facts, facts) if reason else {},
    )


@lru_cache(maxsize=_CONFIG_CACHE_SIZE)
def _config_from_json(config_json: str):
    return effective_config(json.loads(config_json))


def _config(overrides: dict):
    # Agents often share a configuration; the effective config is frozen, so one copy serves.
    return _config_from_json(json.dumps(overrides, sort_keys=True))


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
    # The kill switch or a guard may have changed since the fan-out decided.
    block = buy_guards_check(agent=agent, opens_position=True)
    if block is not None:
        _finish(execution, ExecutionStatus.SKIPPED, reason=block.reason, details=block.details)
        return
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
    execution: SignalExecution,
    status_value: str,
    *,
    reason: str = "",
    error: str = "",
    details: dict | None = None,
) -> None:
    execution.status = status_value
    execution.reason = reason
    execution.details = details or {}
    execution.error = error[:2000]
    execution.save(
        update_fields=[
            "status",
            "reason",
            "details",
            "error",
            "transaction",
            "position",
            "updated_at",
        ]
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
            "details": execution.details,
            "created_at": execution.created_at.isoformat(),
        },
    )
