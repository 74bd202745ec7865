"""Signals: creation, fan-out to eligible agents, and the per-agent buy."""

import json
import logging
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from rest_framework import status

from agents.config import effective_config, to_rule_config
from agents.models import Agent, ApiKey, User
from nexgent import money, realtime
from nexgent.api import DomainError
from nexgent.compiled import Compiled
from nexgent.http import ExternalServiceError
from nexgent.statements import insert_fields, row_values, rows_json, server_bound_cursor
from nexgent.statements import table as table_name
from nexgent.tasks import delay_many
from prices.services import (
    sol_usd_current,
    token_decimals,
    token_decimals_fetch,
    token_decimals_remember,
    token_decimals_stored,
)
from signals_app.eligibility import (
    AgentFacts,
    SignalFacts,
    agent_blocked_reason,
    agent_could_buy,
    agent_skip_reason,
    metric_bounds_set,
    skip_details,
)
from signals_app.models import ExecutionStatus, SignalExecution, TradingSignal
from signals_app.token_metrics import token_metrics_fetch
from trading.buy_statement import LinkedRow, LinkedRowRefused
from trading.risk_selectors import (
    WalletFacts,
    kill_switch_allows_buys_sql,
    kill_switch_mode,
    pause_payload,
    risk_subjects,
    wallet_facts_load,
)
from trading.risk_services import (
    BuyBlock,
    buy_guards_check_many,
    kill_switch_block,
    risk_guards_apply,
)
from trading.rules.risk import KILL_SWITCH_REASONS
from trading.rules.sizing import SizingError, impact_ladder, impact_ok, position_size
from trading.services import TradeRefused, position_record_buy
from trading.venues import venue_for
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(seconds=60)
# How many agents one buy task buys for, one after another. A fan-out to 1,000 agents then
# costs 40 broker messages and guard re-checks instead of 1,000 (about 1% of the buys' work,
# docs/benchmarks.md), and its batches still outnumber the worker threads.
BUY_BATCH_SIZE = 25
# Enough for every distinct agent configuration of a busy engine.
_CONFIG_CACHE_SIZE = 1024
# Decimals lookups of new tokens, off the fan-out's thread (HTTP only, no database).
_LOOKUPS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nexgent-decimals")
_local = threading.local()


def _random() -> random.Random:
    """This thread's generator for randomized sizes: seeded from the system once, not on every
    buy (a fresh Random reads os.urandom and fills its state each time), and again in a forked
    child, which would otherwise draw the same sizes as its parent and its siblings."""
    if getattr(_local, "pid", None) != os.getpid():
        _local.rng, _local.pid = random.Random(), os.getpid()
    return _local.rng


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
        _OWNER_LOCK.rows(pk=owner.pk)
        if idempotency_key:
            earlier = _BY_IDEMPOTENCY_KEY.models(owner_id=owner.pk, key=idempotency_key)
            if earlier:
                return earlier[0], False
        now = datetime.now(UTC)
        duplicate = _DUPLICATE.first(
            owner_id=owner.pk,
            token_address=token_address,
            signal_type=signal_type,
            signal_strength=signal_strength,
            since=now - DUPLICATE_WINDOW,
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
            idempotency_key=idempotency_key,
            created_at=now,
        )
        transaction.on_commit(lambda: signal_fan_out.delay(signal.pk))
    return signal, True


# Signal creation's reads, compiled once (nexgent.compiled): a provider may post several a
# second.
_OWNER_LOCK = Compiled(
    lambda pk: User.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True)
)
_BY_IDEMPOTENCY_KEY = Compiled(
    lambda owner_id, key: TradingSignal.objects.filter(
        owner_id=owner_id, idempotency_key=key
    ).order_by("pk")[:1]
)
_DUPLICATE = Compiled(
    lambda owner_id, token_address, signal_type, signal_strength, since: (
        TradingSignal.objects.filter(
            owner_id=owner_id,
            token_address=token_address,
            signal_type=signal_type,
            signal_strength=signal_strength,
            created_at__gte=since,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1]
    )
)


def signal_fan_out(*, signal_id: int, now: datetime | None = None) -> list[int]:
    """Decide for every agent of the signal's owner in one pass, record each decision with its
    reason, and after commit have the eligible agents' buys made, in batches. Returns the ids
    of the agents whose buys were dispatched.

    The number of queries does not grow with the number of agents, and the token metrics are
    fetched at most once (tests/signals/test_fan_out.py). A redelivered fan-out finds the
    decisions already recorded and changes none of them.
    """
    now = now or datetime.now(UTC)
    signal = _SIGNAL.get(pk=signal_id)
    decided = _decision_facts(signal, now)
    signal_facts, facts, wallets = decided.signal, decided.agents, decided.wallets
    executions = [_decision(signal, signal_facts, fact) for fact in facts]
    # One statement on PostgreSQL is atomic by itself; elsewhere the decisions are written by
    # three. The buys are dispatched once they are committed either way.
    one_statement = connection.vendor == "postgresql"
    with nullcontext() if one_statement else transaction.atomic():
        stored = _decisions_store(signal, executions, now)
        pending = _pending(executions, stored)
        _buys_dispatch(signal.pk, pending, decided.decimals, wallets)
    return [execution.agent_id for execution in pending]


def _decisions_store(
    signal: TradingSignal, executions: list[SignalExecution], now: datetime
) -> dict[int, int]:
    """Store the decisions (a redelivered fan-out finds them stored and changes none), stamp
    the signal as processed, and return the ids of its pending executions by agent."""
    if connection.vendor == "postgresql":
        return _decisions_store_statement(signal, executions, now)
    SignalExecution.objects.bulk_create(executions, ignore_conflicts=True)
    TradingSignal.objects.filter(pk=signal.pk).update(processed_at=now)
    return dict(
        SignalExecution.objects.filter(signal=signal, status=ExecutionStatus.PENDING)
        .order_by()
        .values_list("agent_id", "pk")
    )


def _decisions_store_statement(
    signal: TradingSignal, executions: list[SignalExecution], now: datetime
) -> dict[int, int]:
    """_decisions_store in one statement: the rows go as one JSON parameter, inserted unless
    already there; the pending ones are those this statement inserted and those a previous
    delivery left (the statement's snapshot is from before its own insert, so no row is in
    both). One round trip instead of five on the first buy's path."""
    fields = insert_fields(SignalExecution)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    executions_table, signals_table = table_name(SignalExecution), table_name(TradingSignal)
    sql = f"""
        WITH inserted AS (
            INSERT INTO {executions_table} ({columns})
            SELECT {columns} FROM jsonb_populate_recordset(NULL::{executions_table}, %s::jsonb)
            ON CONFLICT DO NOTHING
            RETURNING agent_id, id, status
        ), stamped AS (
            UPDATE {signals_table} SET processed_at = %s WHERE id = %s
        )
        SELECT agent_id, id FROM inserted WHERE status = %s
        UNION ALL
        SELECT agent_id, id FROM {executions_table} WHERE signal_id = %s AND status = %s
    """
    rows = rows_json([row_values(execution, fields) for execution in executions])
    pending = ExecutionStatus.PENDING.value
    with server_bound_cursor() as cursor:
        cursor.execute(sql, [rows, now, signal.pk, pending, signal.pk, pending])
        return dict(cursor.fetchall())


def _pending(executions: list[SignalExecution], stored: dict[int, int]) -> list[SignalExecution]:
    """The executions still pending as stored (`stored`: their ids by agent), by agent: this
    fan-out's own rows, or a redelivered fan-out's finding of the first one's. The rows in hand
    already carry the signal and the agents (their status is the claim's to check)."""
    pending = []
    for execution in sorted(executions, key=lambda e: e.agent_id):
        if execution.agent_id in stored:
            execution.pk = stored[execution.agent_id]
            execution.status = ExecutionStatus.PENDING
            execution._state.adding, execution._state.db = False, connection.alias
            pending.append(execution)
    return pending


def _buys_dispatch(
    signal_id: int,
    pending: list[SignalExecution],
    decimals: "_DecimalsLookup | None",
    wallets: dict[int, WalletFacts],
) -> None:
    """After commit: the fan-out buys the first batch of BUY_BATCH_SIZE agents itself, with
    what it already holds (the rows, the agents, the wallets, the decimals under way), and
    hands every other batch to a buy task. A trip through the broker would add its latency to
    the first buys of every signal, and so would reading again what the decisions read a
    moment before: the first batch's guards are the decisions' own (kill switch, pauses, open
    positions).

    The other batches are handed out right after the first buy, with the token's decimals:
    that buy does not wait for their messages (a thousand agents make forty). They run on
    other workers meanwhile, and none of them looks the decimals up again."""
    batches = [
        pending[start : start + BUY_BATCH_SIZE] for start in range(0, len(pending), BUY_BATCH_SIZE)
    ]
    if not batches:
        return

    def first_batch() -> None:
        first = batches[0]
        batch = _decided_batch(first, wallets, decimals)
        try:
            _batch_buy(first[:1], batch)
        finally:
            _batches_hand_out(signal_id, batches[1:], batch.known_decimals())
        _batch_buy(first[1:], batch)
        if decimals is not None:
            decimals.remember()

    # Robust: in the in-process modes a task that raises must not stop the next ones.
    transaction.on_commit(first_batch, robust=True)


def _batches_hand_out(
    signal_id: int, batches: list[list[SignalExecution]], decimals: int | None
) -> None:
    from signals_app import tasks

    delay_many(
        tasks.signal_execute_batch,
        [(signal_id, [execution.agent_id for execution in batch], decimals) for batch in batches],
    )


class _DecimalsLookup:
    """The token's decimals, looked up once for all the buys (otherwise every agent's buy of a
    new token asks Jupiter at the same moment, and a big fan-out spends the request budget).
    An unknown token is asked about on another thread, while the fan-out reads the guards'
    figures, records its decisions and claims the first agent: the answer is then usually
    there when the first buy needs it. It is stored once the fan-out's own batch is done (the
    other batches are handed it in their messages)."""

    def __init__(self, mint: str):
        self.mint = mint
        self.known = token_decimals_stored(mint)
        self.asked = None if self.known is not None else _LOOKUPS.submit(token_decimals_fetch, mint)
        self.stored = self.known is not None

    def result(self) -> int | None:
        if self.known is None and self.asked is not None:
            try:
                self.known = self.asked.result()
            except ExternalServiceError as exc:
                # Each buy will try again, and record its own failure if it still cannot know.
                logger.warning("signal token %s: decimals unknown: %s", self.mint, exc)
            self.asked = None
        return self.known

    def remember(self) -> None:
        """Store the decimals found (once), for the tick and later signals."""
        if not self.stored and self.result() is not None:
            token_decimals_remember(self.mint, self.known)
            self.stored = True


@dataclass(frozen=True)
class _Decided:
    """What the fan-out read to decide: the signal's facts, each agent's, their wallets, and
    the token's decimals under way (None when no agent could buy)."""

    signal: SignalFacts
    agents: list[AgentFacts]
    wallets: dict[int, WalletFacts]
    decimals: _DecimalsLookup | None = None


def _decision_facts(signal: TradingSignal, now: datetime) -> _Decided:
    """Everything the eligibility rules read, for all the owner's agents at once, and the
    wallets read for them. Risk guards are evaluated (and pauses recorded) only for agents
    that could otherwise trade, and token metrics fetched only if one of those that is not
    paused sets a bound."""
    agents = _OWNERS_AGENTS.models(owner_id=signal.owner_id)
    configs = {agent.pk: _config(agent.config) for agent in agents}
    wallets = wallet_facts_load(agents, owner_id=signal.owner_id)
    facts = [_agent_facts(agent, configs[agent.pk], wallets.get(agent.pk)) for agent in agents]
    kill_switch = kill_switch_mode()
    early = _signal_facts(signal, None, kill_switch)
    if kill_switch in KILL_SWITCH_REASONS:
        return _Decided(early, facts, wallets)
    decimals = None
    if any(agent_could_buy(early, fact) for fact in facts):
        decimals = _DecimalsLookup(signal.token_address)
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
    return _Decided(_signal_facts(signal, metrics, kill_switch), facts, wallets, decimals)


# The reads on every signal's path, compiled once (nexgent.compiled).
_SIGNAL = Compiled(lambda pk: TradingSignal.objects.filter(pk=pk))
_OWNERS_AGENTS = Compiled(lambda owner_id: Agent.objects.filter(owner_id=owner_id).order_by("pk"))
_PENDING_EXECUTIONS = Compiled(
    lambda signal_id, agent_ids: (
        SignalExecution.objects.select_related("signal", "agent")
        .filter(signal_id=signal_id, agent_id__in=agent_ids, status=ExecutionStatus.PENDING)
        .order_by("agent_id")
    )
)


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


@lru_cache(maxsize=_CONFIG_CACHE_SIZE)
def _rules_from_json(config_json: str):
    return to_rule_config(_config_from_json(config_json))


def _config(overrides: dict):
    # Agents often share a configuration; the effective config is frozen, so one copy serves.
    return _config_from_json(json.dumps(overrides, sort_keys=True))


def _rules(overrides: dict):
    return _rules_from_json(json.dumps(overrides, sort_keys=True))


def signal_execute(*, signal_id: int, agent_id: int) -> SignalExecution:
    """Buy for one agent (a batch of one): what a buy task queued one agent at a time runs."""
    signal_execute_batch(signal_id=signal_id, agent_ids=[agent_id])
    return SignalExecution.objects.get(signal_id=signal_id, agent_id=agent_id)


def signal_execute_batch(
    *, signal_id: int, agent_ids: list[int], decimals: int | None = None
) -> list[SignalExecution]:
    """Buy for each of these agents of the signal, one after another. Returns the executions
    this call decided.

    Each buy is its own transaction, with the `buy:<signal>:<agent>` idempotency key, and
    claims its agent's execution itself: it is written only while the execution is pending
    (_execute). An agent another delivery decided is left alone, a retried buy cannot buy
    twice, and one agent's failure is recorded on it alone. The guards are checked again for
    all of them at once when the batch starts, with the wallets and the token's decimals the
    buys use (`decimals`: as the fan-out found them; None, looked up here).
    """
    executions = _PENDING_EXECUTIONS.models(signal_id=signal_id, agent_ids=list(agent_ids))
    if not executions:
        return []
    return _batch_buy(executions, _batch_load(executions, decimals))


def _batch_buy(executions: list[SignalExecution], batch: "_Batch") -> list[SignalExecution]:
    return [execution for execution in executions if _execute(execution, batch)]


@dataclass
class _Batch:
    """What the buys of one batch share, read once for all of them."""

    signal: TradingSignal
    facts: dict[int, WalletFacts]  # by agent id: the wallet of its current mode
    wallets: dict[int, AgentWallet]  # by wallet id
    blocks: dict[int, BuyBlock]  # by agent id: what the guards say
    decimals: int | None = None
    lookup: _DecimalsLookup | None = None  # the fan-out's, under way
    _sol_usd: Decimal | None = None
    _sol_usd_read: bool = False

    def sol_usd(self) -> Decimal | None:
        """SOL/USD for the batch's ledger entries, read once (a cache round trip a buy saved):
        a batch's buys are made within a fraction of a second, and each entry records the
        price as the batch's first buy found it."""
        if not self._sol_usd_read:
            self._sol_usd, self._sol_usd_read = sol_usd_current(), True
        return self._sol_usd

    def token_decimals(self) -> int:
        # Kept only once known: each buy asks again after a failed lookup, and fails alone.
        if self.decimals is None:
            known = self.known_decimals()
            self.decimals = (
                known if known is not None else token_decimals(self.signal.token_address)
            )
        return self.decimals

    def known_decimals(self) -> int | None:
        """The decimals if known without asking anyone new (None otherwise)."""
        if self.decimals is None and self.lookup is not None:
            self.decimals = self.lookup.result()
        return self.decimals

    def wallet(self, agent: Agent) -> AgentWallet:
        facts = self.facts.get(agent.pk)
        if facts is None:
            raise AgentWallet.DoesNotExist(f"agent {agent.pk} has no {agent.trading_mode} wallet")
        return self.wallets[facts.wallet_id]


def _batch_load(executions: list[SignalExecution], decimals: int | None) -> _Batch:
    agents = [execution.agent for execution in executions]
    facts = wallet_facts_load(agents)
    # A guard may have tripped since the fan-out decided.
    blocks = buy_guards_check_many(
        agents=agents,
        wallets=facts,
        configs={agent.pk: _config(agent.config) for agent in agents},
        opens_position=True,
    )
    return _Batch(executions[0].signal, facts, _wallet_rows(agents, facts), blocks, decimals)


def _decided_batch(
    executions: list[SignalExecution],
    wallets: dict[int, WalletFacts],
    lookup: _DecimalsLookup | None,
) -> _Batch:
    """The fan-out's own batch: the wallets and guards as its decisions found them."""
    facts = {e.agent_id: wallets[e.agent_id] for e in executions if e.agent_id in wallets}
    agents = [execution.agent for execution in executions]
    rows = _wallet_rows(agents, facts)
    return _Batch(executions[0].signal, facts, rows, {}, lookup=lookup)


def _wallet_rows(agents: list[Agent], facts: dict[int, WalletFacts]) -> dict[int, AgentWallet]:
    """The agents' wallets of their current mode (`facts`) by id, as instances that hold what
    a buy reads (the id, the agent, the mode) without reading them again; any other field is
    loaded if it is ever read (Django's deferred fields)."""
    loaded = ["id", "agent_id", "mode"]
    return {
        facts[agent.pk].wallet_id: AgentWallet.from_db(
            connection.alias, loaded, [facts[agent.pk].wallet_id, agent.pk, agent.trading_mode]
        )
        for agent in agents
        if agent.pk in facts
    }


def _execute(execution: SignalExecution, batch: _Batch) -> bool:
    """Buy for one agent, or record why not; False when another delivery had decided it.

    The agent is claimed by its buy's own statement (LinkedRow): the buy is written only while
    the execution is still pending and the kill switch lets buys through, so a duplicate
    delivery cannot buy twice, an operator's halt stops every buy not yet written, and a crash
    before the write leaves the execution pending for the redelivered task."""
    try:
        expired = _expiry(execution.signal)
        if expired is not None:
            return _finish(
                execution, ExecutionStatus.SKIPPED, reason="signal_expired", details=expired
            )
        # The guards as the batch found them.
        block = batch.blocks.get(execution.agent_id)
        if block is not None:
            return _finish(
                execution, ExecutionStatus.SKIPPED, reason=block.reason, details=block.details
            )
        _buy_for(execution, batch)
        return True
    except LinkedRowRefused:
        return _refused_at_write(execution)
    except (SizingError, TradeRefused) as refusal:
        return _finish(execution, ExecutionStatus.SKIPPED, reason=refusal.code)
    except ExternalServiceError as exc:
        return _finish(execution, ExecutionStatus.FAILED, reason="venue_error", error=str(exc))
    except Exception as exc:
        logger.exception("signal %s agent %s: buy failed", execution.signal_id, execution.agent_id)
        return _finish(execution, ExecutionStatus.FAILED, reason="internal_error", error=repr(exc))


def _expiry(signal: TradingSignal) -> dict | None:
    """The figures of a signal too old to buy on (SIGNAL_BUY_MAX_AGE_SECONDS), or None."""
    age = datetime.now(UTC) - signal.created_at
    limit = settings.SIGNAL_BUY_MAX_AGE_SECONDS
    if age <= timedelta(seconds=limit):
        return None
    return {"age_seconds": round(age.total_seconds(), 3), "max_age_seconds": limit}


def _refused_at_write(execution: SignalExecution) -> bool:
    """The buy's statement wrote nothing because the execution was not pending any more
    (another delivery decided it: False) or the kill switch was thrown (a skip)."""
    block = kill_switch_block()
    if block is None:
        return False
    return _finish(execution, ExecutionStatus.SKIPPED, reason=block.reason, details=block.details)


def _buy_for(execution: SignalExecution, batch: _Batch) -> None:
    signal, agent = execution.signal, execution.agent
    wallet = batch.wallet(agent)
    rules = _rules(agent.config)
    size = position_size(
        rules.sizing,
        rules.purchase_limits,
        batch.facts[agent.pk].sol_balance,
        rng=_random(),
    )
    venue = venue_for(wallet)
    decimals = batch.token_decimals()
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
    # The execution is recorded as executed by the buy's own transaction: a crash cannot leave
    # a committed buy whose execution still says `executing`.
    outcome = _outcome(execution, ExecutionStatus.EXECUTED)
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
        linked=LinkedRow(
            SignalExecution,
            execution.pk,
            "position",
            "transaction",
            values=outcome,
            expect={"status": ExecutionStatus.PENDING},
            condition=kill_switch_allows_buys_sql(),
        ),
        sol_usd=batch.sol_usd(),
    )
    execution.transaction = result.transaction
    execution.position = result.position
    _announce(execution)


def _outcome(
    execution: SignalExecution,
    status_value: str,
    *,
    reason: str = "",
    error: str = "",
    details: dict | None = None,
) -> dict:
    """Set the decision on the execution and return the fields to store."""
    execution.status = status_value
    execution.reason = reason
    execution.details = details or {}
    execution.error = error[:2000]
    execution.updated_at = datetime.now(UTC)
    return {
        name: getattr(execution, name)
        for name in ("status", "reason", "details", "error", "updated_at")
    }


def _finish(
    execution: SignalExecution,
    status_value: str,
    *,
    reason: str = "",
    error: str = "",
    details: dict | None = None,
) -> bool:
    """Record a decision without a buy (a skip or a failure) and announce it, if the execution
    is still pending; False (nothing written) when another delivery decided it."""
    outcome = _outcome(execution, status_value, reason=reason, error=error, details=details)
    pending = SignalExecution.objects.filter(pk=execution.pk, status=ExecutionStatus.PENDING)
    if not pending.update(**outcome):
        return False
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
