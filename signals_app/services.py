"""Signals: creation, the decision of every agent (the fan-out), and the buys it dispatches.

Signals decide and dispatch; the buys are `trading.services.position_buy`, which records each
agent's execution inside the buy's own transaction.
"""

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from rest_framework import status

from agents.config import ConfigValidationError, agent_config
from agents.models import Agent, ApiKey, User
from nexgent import money, realtime
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from prices.services import token_decimals, token_metrics_fetch
from signals_app.eligibility import (
    AgentFacts,
    SignalFacts,
    agent_blocked_reason,
    agent_could_buy,
    agent_skip_reason,
    metric_bounds_set,
    skip_details,
)
from signals_app.models import ExecutionStatus, SignalAction, SignalExecution, TradingSignal
from trading.live import SwapFailed
from trading.models import CloseReason, Position, PositionStatus
from trading.risk_selectors import (
    WalletFacts,
    kill_switch_mode,
    pause_payload,
    risk_subjects,
    wallet_facts_load,
)
from trading.risk_services import buy_guards_check_many, risk_guards_apply
from trading.rules.risk import KILL_SWITCH_REASONS
from trading.rules.sizing import SizingError
from trading.services import BuyBlocked, BuyResult, TradeRefused, position_buy, position_close
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(seconds=60)
# How many agents one buy task buys for, one after another. A fan-out to 1,000 agents then
# costs 40 broker messages and guard re-checks instead of 1,000, and its batches still
# outnumber the worker threads.
BUY_BATCH_SIZE = 25
# The reason of an execution that failed because its agent's stored config cannot be read.
INVALID_CONFIG = "invalid_config"


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
    action: str = SignalAction.BUY,
    agent: Agent | None = None,
    size_sol: Decimal | None = None,
    stop_loss_percent: Decimal | None = None,
) -> tuple[TradingSignal, bool]:
    """Record a signal. Returns (signal, created); a created signal's fan-out is the caller's to
    dispatch once it is committed (signals_app.tasks.signal_received). `action` "sell" exits
    the positions in the token of the agents that take it; `agent`: the one agent the signal is
    for (its AI strategist's), else every agent of the owner that takes posted signals.
    `size_sol` and `stop_loss_percent` set the buy's size and stop (None: the agent's rules).

    A repeated Idempotency-Key returns the first signal; an identical signal (same owner,
    token, type and strength) within 60 s is refused with 409.
    """
    with transaction.atomic():
        # Serialise signal creation per owner, so the duplicate check cannot race.
        list(User.objects.select_for_update().filter(pk=owner.pk).values_list("pk"))
        owned = TradingSignal.objects.filter(owner=owner).order_by("pk")
        if idempotency_key:
            earlier = owned.filter(idempotency_key=idempotency_key).first()
            if earlier is not None:
                return earlier, False
        now = datetime.now(UTC)
        duplicate = (
            owned.filter(
                token_address=token_address,
                signal_type=signal_type,
                signal_strength=signal_strength,
                action=action,
                agent=agent,
                created_at__gte=now - DUPLICATE_WINDOW,
            )
            .values_list("pk", flat=True)
            .first()
        )
        if duplicate is not None:
            raise DomainError(
                f"an identical signal (#{duplicate}) was received less than 60 s ago",
                code="duplicate_signal",
                status_code=status.HTTP_409_CONFLICT,
                details=[{"field": None, "message": f"duplicate of signal {duplicate}"}],
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
            action=action,
            agent=agent,
            size_sol=size_sol,
            stop_loss_percent=stop_loss_percent,
            idempotency_key=idempotency_key,
            created_at=now,
        )
    return signal, True


# --- The fan-out --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanOut:
    """The agents whose buys are pending after a fan-out, by agent id, and the token's
    decimals (None if unknown: each batch asks again). `decided`: the pending executions as the
    fan-out decided them, with the wallets it read, for the batch it buys for at once."""

    signal_id: int
    pending: list[int]
    decimals: int | None
    decided: dict[int, tuple[SignalExecution, WalletFacts | None]]

    def batches(self) -> list[list[int]]:
        """The pending agents in batches of BUY_BATCH_SIZE, each for one buy task."""
        return in_batches(self.pending)


def in_batches(agent_ids: list[int]) -> list[list[int]]:
    """Agents in batches of BUY_BATCH_SIZE, each for one buy task."""
    return [
        agent_ids[start : start + BUY_BATCH_SIZE]
        for start in range(0, len(agent_ids), BUY_BATCH_SIZE)
    ]


def signal_fan_out(*, signal_id: int, now: datetime | None = None) -> FanOut:
    """Decide for every agent of the signal's owner in one pass and record each decision with
    its reason, in one transaction. Returns the agents whose buys are pending, for the caller
    to dispatch in batches (signals_app.tasks.signal_fan_out).

    The number of queries does not grow with the number of agents, and the token metrics and
    decimals are fetched at most once (tests/signals/test_fan_out.py). A redelivered fan-out
    finds the decisions already recorded and changes none of them.
    """
    now = now or datetime.now(UTC)
    signal = TradingSignal.objects.get(pk=signal_id)
    decided = _decision_facts(signal, now)
    executions = [_decision(signal, decided.signal, facts) for facts in decided.agents]
    executions += [
        _config_failure(signal, agent_id, error) for agent_id, error in decided.unreadable.items()
    ]
    # Looked up before the decisions' transaction: no HTTP call while it holds its locks.
    buying = signal.action == SignalAction.BUY and any(
        execution.status == ExecutionStatus.PENDING for execution in executions
    )
    decimals = _decimals(signal.token_address) if buying else None
    with transaction.atomic():
        # Conflicts are the decisions of an earlier delivery: they stand as they are.
        SignalExecution.objects.bulk_create(executions, ignore_conflicts=True)
        TradingSignal.objects.filter(pk=signal.pk).update(processed_at=now)
        pending = list(
            SignalExecution.objects.filter(signal=signal, status=ExecutionStatus.PENDING)
            .order_by("agent_id")
            .values_list("agent_id", flat=True)
        )
    # The agents that will not buy learn it now, live, as the buying ones do from their buy.
    with realtime.batched():
        for execution in executions:
            if execution.status != ExecutionStatus.PENDING:
                _announce(execution)
    by_agent = {execution.agent_id: execution for execution in executions}
    return FanOut(
        signal.pk,
        pending,
        decimals,
        {
            agent_id: (by_agent[agent_id], decided.wallets.get(agent_id))
            for agent_id in pending
            if agent_id in by_agent  # else an agent a concurrent delivery found and decided
        },
    )


def _decimals(mint: str) -> int | None:
    """The token's decimals, looked up once for all the buys (else every agent's buy of a new
    token would ask Jupiter at the same moment); None if unknown, and each buy asks again."""
    try:
        return token_decimals(mint)
    except ExternalServiceError as exc:
        logger.warning("signal token %s: decimals unknown: %s", mint, exc)
        return None


@dataclass(frozen=True)
class _Decided:
    """What the fan-out read to decide: the signal's facts, each agent's, and their wallets."""

    signal: SignalFacts
    agents: list[AgentFacts]
    wallets: dict[int, WalletFacts]
    unreadable: dict[int, ConfigValidationError]  # agents whose config cannot be read


def _decision_facts(signal: TradingSignal, now: datetime) -> _Decided:
    """Everything the eligibility rules read, for all the owner's agents at once. Risk guards
    are evaluated (and pauses recorded) only for agents that could otherwise trade, and token
    metrics fetched only if one of those that is not paused sets a bound."""
    agents = Agent.objects.filter(owner_id=signal.owner_id).order_by("pk")
    if signal.agent_id is not None:
        agents = agents.filter(pk=signal.agent_id)
    agents, configs, unreadable = _readable(list(agents))
    wallets = wallet_facts_load(agents)
    facts = [_agent_facts(agent, configs[agent.pk], wallets.get(agent.pk)) for agent in agents]
    kill_switch = kill_switch_mode()
    early = _signal_facts(signal, None, kill_switch)
    # An exit needs neither the buy guards nor the token's metrics.
    if signal.action == SignalAction.SELL:
        return _Decided(early, facts, wallets, unreadable)
    if kill_switch in KILL_SWITCH_REASONS or not any(agent_could_buy(early, f) for f in facts):
        return _Decided(early, facts, wallets, unreadable)
    candidates = [fact.agent for fact in facts if agent_blocked_reason(fact) is None]
    pauses = risk_guards_apply(subjects=risk_subjects(candidates, wallets), now=now)
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
    return _Decided(_signal_facts(signal, metrics, kill_switch), facts, wallets, unreadable)


def _readable(agents: list[Agent]) -> tuple[list[Agent], dict, dict[int, ConfigValidationError]]:
    """The agents whose stored config the engine can read, with their configs by agent id, and
    why each of the others cannot be read: one agent's bad config (saved past the schema, by
    raw SQL or an old version) fails that agent's execution, never the signal's fan-out."""
    readable, configs, unreadable = [], {}, {}
    for agent in agents:
        try:
            configs[agent.pk] = agent_config(agent.config)
        except ConfigValidationError as error:
            unreadable[agent.pk] = error
            continue
        readable.append(agent)
    return readable, configs, unreadable


def _signal_facts(signal: TradingSignal, metrics, kill_switch: str) -> SignalFacts:
    return SignalFacts(
        signal.token_address,
        signal.signal_type,
        signal.signal_strength,
        token_metrics=metrics,
        kill_switch=kill_switch,
        action=signal.action,
        from_strategist=signal.agent_id is not None,
    )


def _agent_facts(agent: Agent, config, wallet: WalletFacts | None) -> AgentFacts:
    return AgentFacts(
        agent=agent,
        config=config,
        has_wallet=wallet is not None,
        sol_balance=wallet.sol_balance if wallet else money.ZERO,
        open_tokens=wallet.open_tokens if wallet else frozenset(),
    )


def _config_failure(signal: TradingSignal, agent_id: int, error: ConfigValidationError):
    return SignalExecution(
        signal=signal,
        agent_id=agent_id,
        status=ExecutionStatus.FAILED,
        reason=INVALID_CONFIG,
        error=_config_error_text(error),
        details={"fields": error.details},
    )


def _config_error_text(error: ConfigValidationError) -> str:
    return "agent config cannot be read: " + "; ".join(
        f"{detail['field'] or 'config'}: {detail['message']}" for detail in error.details
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


# --- The buys -----------------------------------------------------------------------------------


def signal_execute(*, signal_id: int, agent_id: int) -> SignalExecution:
    """Buy for one agent (a batch of one)."""
    signal_execute_batch(signal_id=signal_id, agent_ids=[agent_id])
    return SignalExecution.objects.get(signal_id=signal_id, agent_id=agent_id)


def signal_execute_batch(
    *, signal_id: int, agent_ids: list[int], decimals: int | None = None
) -> list[SignalExecution]:
    """Buy for each of these agents of the signal, one after another. Returns the executions
    this call decided.

    Each buy is its own transaction, with the `buy:<signal>:<agent>` idempotency key, and
    records its agent's execution inside it, only while the execution is still pending: an
    agent another delivery decided is left alone, a retried buy cannot buy twice, and one
    agent's failure is recorded on it alone. The guards are checked again for all of them at
    once when the batch starts. `decimals`: the token's, as the fan-out found them.
    """
    executions = list(
        SignalExecution.objects.select_related("signal", "agent")
        .filter(signal_id=signal_id, agent_id__in=agent_ids, status=ExecutionStatus.PENDING)
        .order_by("agent_id")
    )
    if not executions:
        return []
    agents, _, unreadable = _readable([execution.agent for execution in executions])
    failed = [
        execution
        for execution in executions
        if execution.agent_id in unreadable
        and _config_failed(execution, unreadable[execution.agent_id])
    ]
    executions = [execution for execution in executions if execution.agent_id not in unreadable]
    if not executions:
        return failed
    wallets = wallet_facts_load(agents)
    if executions[0].signal.action == SignalAction.SELL:
        return failed + _execute_all(executions, {}, wallets, None)
    # A guard may have tripped since the fan-out decided.
    blocks = buy_guards_check_many(agents=agents, wallets=wallets, opens_position=True)
    if decimals is None:
        decimals = _decimals(executions[0].signal.token_address)
    return failed + _execute_all(executions, blocks, wallets, decimals)


def signal_execute_decided(fan_out: FanOut, agent_ids: list[int]) -> list[SignalExecution]:
    """Buy for these pending agents of a fan-out at once, on what the fan-out just read and
    decided: the batch its own task buys for. Guards are not checked again here (they were a
    moment ago; the kill switch is read again inside every buy), which takes the batch's
    re-reads off the way to a signal's first buy."""
    decided = [fan_out.decided[agent_id] for agent_id in agent_ids if agent_id in fan_out.decided]
    executions = [execution for execution, _ in decided]
    for execution in executions:
        execution.status = ExecutionStatus.PENDING  # as stored, whichever delivery decided it
    wallets = {execution.agent_id: facts for execution, facts in decided if facts is not None}
    executed = _execute_all(executions, {}, wallets, fan_out.decimals)
    others = [agent_id for agent_id in agent_ids if agent_id not in fan_out.decided]
    if others:
        executed += signal_execute_batch(
            signal_id=fan_out.signal_id, agent_ids=others, decimals=fan_out.decimals
        )
    return executed


def _execute_all(
    executions: list[SignalExecution],
    blocks: dict,
    wallets: dict[int, WalletFacts],
    decimals: int | None,
) -> list[SignalExecution]:
    """Buy for each execution in turn (`blocks`: the guards' refusals by agent id); the
    executions this call decided, with their events sent together at the end."""
    rows = AgentWallet.objects.in_bulk([facts.wallet_id for facts in wallets.values()])
    with realtime.batched():
        return [
            execution
            for execution in executions
            if _execute(
                execution,
                blocks.get(execution.agent_id),
                wallets.get(execution.agent_id),
                rows,
                decimals,
            )
        ]


class _AlreadyDecided(Exception):
    """Another delivery decided this agent's execution first: its buy must not be written."""


def _execute(
    execution: SignalExecution,
    block,
    facts: WalletFacts | None,
    rows: dict[int, AgentWallet],
    decimals: int | None,
) -> bool:
    """Buy for one agent, or record why not; False when another delivery had decided it.
    `facts`: its wallet as the batch read it (`rows`: the wallets by id)."""
    try:
        expired = _expiry(execution.signal)
        if expired is not None:
            return _finish(
                execution, ExecutionStatus.SKIPPED, reason="signal_expired", details=expired
            )
        if block is not None:
            return _finish(
                execution, ExecutionStatus.SKIPPED, reason=block.reason, details=block.details
            )
        if facts is None:
            return _finish(execution, ExecutionStatus.SKIPPED, reason="no_wallet")
        signal = execution.signal
        if signal.action == SignalAction.SELL:
            return _exit(execution, facts)
        position_buy(
            agent=execution.agent,
            wallet=rows[facts.wallet_id],
            token_address=signal.token_address,
            token_symbol=signal.symbol,
            sol_amount=signal.size_sol,
            stop_loss_percent=signal.stop_loss_percent,
            sol_balance=facts.sol_balance,
            decimals=decimals,
            signal_id=signal.pk,
            idempotency_key=f"buy:{signal.pk}:{execution.agent_id}",
            record_with=lambda bought: _executed(execution, bought),
        )
        return True
    except _AlreadyDecided:
        return False
    except BuyBlocked as blocked:
        return _finish(
            execution, ExecutionStatus.SKIPPED, reason=blocked.code, details=blocked.block.details
        )
    except ConfigValidationError as error:
        return _config_failed(execution, error)
    except (SizingError, TradeRefused) as refusal:
        return _finish(execution, ExecutionStatus.SKIPPED, reason=refusal.code)
    except ExternalServiceError as exc:
        return _finish(execution, ExecutionStatus.FAILED, reason="venue_error", error=str(exc))
    except SwapFailed as failed:
        # A live swap that did not land (slippage, expiry, ...): failed with its reason.
        return _finish(execution, ExecutionStatus.FAILED, reason=failed.code, error=str(failed))
    except Exception as exc:
        logger.exception("signal %s agent %s: buy failed", execution.signal_id, execution.agent_id)
        return _finish(execution, ExecutionStatus.FAILED, reason="internal_error", error=repr(exc))


def _exit(execution: SignalExecution, facts: WalletFacts) -> bool:
    """Close the agent's open position in the signal's token (a sell signal). The close is
    idempotent by itself (an open position is sold once), so a redelivered sell finds the
    position closed and records that."""
    position = (
        Position.objects.filter(
            wallet_id=facts.wallet_id,
            token_address=execution.signal.token_address,
            status=PositionStatus.OPEN,
        )
        .only("pk")
        .first()
    )
    if position is None:
        return _finish(execution, ExecutionStatus.SKIPPED, reason="no_open_position")
    if position_close(position_id=position.pk, reason=CloseReason.SIGNAL) is None:
        return _finish(execution, ExecutionStatus.SKIPPED, reason="position_not_open")
    return _record(execution, ExecutionStatus.EXECUTED, position=position)


def _expiry(signal: TradingSignal) -> dict | None:
    """The figures of a signal too old to buy on (SIGNAL_BUY_MAX_AGE_SECONDS), or None."""
    age = datetime.now(UTC) - signal.created_at
    limit = settings.SIGNAL_BUY_MAX_AGE_SECONDS
    if age <= timedelta(seconds=limit):
        return None
    return {"age_seconds": round(age.total_seconds(), 3), "max_age_seconds": limit}


def _executed(execution: SignalExecution, bought: BuyResult) -> None:
    """Inside the buy's transaction: the execution records the buy, if it is still pending (a
    crash cannot leave a committed buy whose execution does not say so)."""
    recorded = _record(
        execution,
        ExecutionStatus.EXECUTED,
        position=bought.position,
        transaction=bought.transaction,
    )
    if not recorded:
        raise _AlreadyDecided


def _config_failed(execution: SignalExecution, error: ConfigValidationError) -> bool:
    return _finish(
        execution,
        ExecutionStatus.FAILED,
        reason=INVALID_CONFIG,
        error=_config_error_text(error),
        details={"fields": error.details},
    )


def _finish(
    execution: SignalExecution,
    status_value: str,
    *,
    reason: str = "",
    error: str = "",
    details: dict | None = None,
) -> bool:
    """Record a decision without a buy (a skip or a failure); False (nothing written) when
    another delivery decided it."""
    return _record(execution, status_value, reason=reason, error=error, details=details or {})


def _record(execution: SignalExecution, status_value: str, **outcome) -> bool:
    """Set the outcome on the execution, if it is still pending, and announce it."""
    outcome = {
        "status": status_value,
        "reason": "",
        "details": {},
        "error": "",
        **outcome,
        "updated_at": datetime.now(UTC),
    }
    outcome["error"] = outcome["error"][:2000]
    pending = SignalExecution.objects.filter(
        signal_id=execution.signal_id, agent_id=execution.agent_id, status=ExecutionStatus.PENDING
    )
    if not pending.update(**outcome):
        return False
    for name, value in outcome.items():
        setattr(execution, name, value)
    _announce(execution)
    return True


def _announce(execution: SignalExecution) -> None:
    signal = execution.signal
    realtime.signal_execution(
        execution.agent_id,
        {
            "signal_id": signal.pk,
            "token_address": signal.token_address,
            "token_symbol": signal.symbol,
            "signal_type": signal.signal_type,
            "status": execution.status,
            "reason": execution.reason,
            "details": execution.details,
            "created_at": execution.created_at.isoformat(),
        },
    )
