"""The AI strategist: an agent's own signal source, run as cycles (docs/strategist.md).

A cycle, under the agent's lease (never two at once for one agent):
1. gathers the agent's results as feedback, its account and open positions, candidate tokens
   (recent posted signals' tokens and its positions) with their market and indicators;
2. asks the model once (signals_app.strategist_llm) for decisions held to a JSON Schema;
3. passes each decision through the risk manager (signals_app.strategist_rules.verdicts);
4. executes the accepted ones, closes first, each exactly once: a close through the close
   service (reason "ai"), an open as a signal for the agent alone (source "ai") that takes the
   normal fan-out and buy;
5. stores everything: prompt, raw answer, reasoning, decisions, verdicts, executions, tokens,
   latency and cost.
A timeout, rate limit, server error, bad answer or spent budget ends the cycle as `wait` with
its reason, and nothing is executed.
"""

import json
import logging
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from agents.config import AgentConfig, ConfigValidationError, agent_config
from agents.models import Agent, User
from nexgent import money, realtime
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from prices.clients import TokenMarket
from prices.selectors import latest_prices
from prices.services import boosted_tokens_fetch, token_markets_fetch
from signals_app import strategist_rules as rules
from signals_app.models import (
    CycleStatus,
    DecisionAction,
    DecisionOutcome,
    ExecutionStatus,
    LlmCredential,
    SignalExecution,
    StrategistCycle,
    StrategistDecision,
    StrategistLease,
    Verdict,
)
from signals_app.services import signal_create, signal_execute_decided, signal_fan_out
from signals_app.strategist_llm import ModelUnavailable, model_ask
from signals_app.strategist_selectors import (
    SIGNAL_CANDIDATE_WINDOW,
    Account,
    account_of,
    credential_of,
    feedback,
    last_slots,
    position_facts,
    price_candles,
    signal_tokens,
    strategist_agents,
    tokens_spent_since,
)
from trading.models import CloseReason, Position, PositionStatus
from trading.performance_selectors import wallet_valuations
from trading.risk_selectors import kill_switch_mode, pauses_current
from trading.services import position_close
from wallets.keystore import Sealed, seal, unseal

logger = logging.getLogger(__name__)

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
# A lease covers the model's timeout and this much more for the rest of the cycle.
LEASE_MARGIN = timedelta(seconds=120)
MILLION = Decimal(1_000_000)
SIGNAL_TYPE = "AI"
SOURCE = "ai"


# --- The operator's model -----------------------------------------------------------------------


def _key_context(owner_id: int) -> str:
    # The associated data: a key copied onto another operator's row does not open.
    return f"llm-key:{owner_id}"


def llm_credential_set(
    *,
    owner: User,
    base_url: str,
    model: str,
    api_key: str,
    response_format: str = "json_schema",
    input_usd_per_million_tokens: Decimal = Decimal(0),
    output_usd_per_million_tokens: Decimal = Decimal(0),
) -> LlmCredential:
    """Store the operator's model for their AI strategists; the key only encrypted."""
    sealed = seal(api_key.encode(), address=_key_context(owner.pk))
    credential, _ = LlmCredential.objects.update_or_create(
        owner=owner,
        defaults={
            "base_url": base_url.rstrip("/"),
            "model": model,
            "response_format": response_format,
            "encrypted_key": sealed.ciphertext,
            "key_salt": sealed.salt,
            "key_nonce": sealed.nonce,
            "input_usd_per_million_tokens": input_usd_per_million_tokens,
            "output_usd_per_million_tokens": output_usd_per_million_tokens,
        },
    )
    return credential


def llm_credential_delete(*, owner: User) -> bool:
    """Remove the operator's model: their strategists' cycles wait (no_model) until another is
    set. False when there was none."""
    deleted, _ = LlmCredential.objects.filter(owner=owner).delete()
    return bool(deleted)


def llm_key_open(credential: LlmCredential) -> str:
    sealed = Sealed(
        ciphertext=bytes(credential.encrypted_key),
        salt=bytes(credential.key_salt),
        nonce=bytes(credential.key_nonce),
    )
    return unseal(sealed, address=_key_context(credential.owner_id)).decode()


# --- Which cycles are due -----------------------------------------------------------------------


def slot_of(now: datetime, period_minutes: int) -> datetime:
    """The start of the period `now` falls in: cycles of one agent are one per slot."""
    period = timedelta(minutes=period_minutes)
    return EPOCH + ((now - EPOCH) // period) * period


def strategist_cycles_due(*, now: datetime | None = None) -> list[tuple[int, datetime]]:
    """(agent id, slot) of every strategist agent whose current slot has no cycle yet."""
    now = now or datetime.now(UTC)
    agents = strategist_agents()
    last = last_slots([agent.pk for agent, _ in agents])
    due = []
    for agent, config in agents:
        slot = slot_of(now, config.ai_strategist.period_minutes)
        if last.get(agent.pk) is None or last[agent.pk] < slot:
            due.append((agent.pk, slot))
    return due


# --- Retention ----------------------------------------------------------------------------------

PURGE_BATCH = 500


def strategist_cycles_purge(*, now: datetime | None = None) -> int:
    """Delete finished cycles (with their decisions) older than
    STRATEGIST_CYCLE_RETENTION_DAYS, in batches so no statement holds a long lock: each keeps
    its prompt, tens of kilobytes. Returns how many cycles were deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.STRATEGIST_CYCLE_RETENTION_DAYS)
    finished = StrategistCycle.objects.filter(
        started_at__lt=cutoff, status__in=[CycleStatus.DONE, CycleStatus.WAIT]
    )
    deleted = 0
    while batch := list(finished.order_by().values_list("pk", flat=True)[:PURGE_BATCH]):
        StrategistCycle.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
    return deleted


# --- The lease ----------------------------------------------------------------------------------


def _lease_take(agent_id: int, now: datetime, length: timedelta) -> bool:
    StrategistLease.objects.get_or_create(agent_id=agent_id)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    return bool(
        StrategistLease.objects.filter(free, agent_id=agent_id).update(lease_until=now + length)
    )


def _lease_release(agent_id: int) -> None:
    StrategistLease.objects.filter(agent_id=agent_id).update(lease_until=None)


# --- A cycle ------------------------------------------------------------------------------------


def strategist_cycle_run(
    *, agent_id: int, slot: datetime, now: datetime | None = None
) -> StrategistCycle | None:
    """Run the agent's cycle of `slot`, unless another worker holds the agent's lease or the
    slot already has its cycle. First finishes what a crashed cycle left: an answered cycle's
    pending decisions are executed (each still exactly once), an unanswered one is marked
    `wait`. Returns the cycle run, or None."""
    now = now or datetime.now(UTC)
    agent = Agent.objects.select_related("owner").get(pk=agent_id)
    try:
        config = agent_config(agent.config)
    except ConfigValidationError:
        return None
    lease = timedelta(seconds=config.ai_strategist.timeout_seconds) + LEASE_MARGIN
    if not _lease_take(agent_id, now, lease):
        return None
    try:
        _leftovers_finish(agent)
        try:
            with transaction.atomic():
                cycle = StrategistCycle.objects.create(agent=agent, slot=slot, started_at=now)
        except IntegrityError:
            return None  # the slot already had its cycle
        try:
            _cycle(cycle, agent, config, now)
        except Exception as error:
            # A fault of the engine's own: the cycle waits, with what went wrong, and the
            # next one tries again.
            logger.exception("strategist cycle %s of agent %s failed", cycle.pk, agent_id)
            if cycle.status == CycleStatus.RUNNING:
                _finish(cycle, CycleStatus.WAIT, reason="internal_error", error=repr(error))
        return cycle
    finally:
        _lease_release(agent_id)


def _leftovers_finish(agent: Agent) -> None:
    left = StrategistCycle.objects.filter(
        agent=agent, status__in=[CycleStatus.RUNNING, CycleStatus.EXECUTING]
    ).order_by("pk")
    for cycle in left:
        if cycle.status == CycleStatus.EXECUTING:
            _execute(cycle, agent)
            _finish(cycle, CycleStatus.DONE)
        else:
            _finish(cycle, CycleStatus.WAIT, reason="abandoned", error="the worker stopped")


def _cycle(cycle: StrategistCycle, agent: Agent, config: AgentConfig, now: datetime) -> None:
    ai = config.ai_strategist
    credential = credential_of(agent.owner_id)
    if credential is None:
        return _finish(cycle, CycleStatus.WAIT, reason="no_model")
    cycle.model = credential.model
    spent = _budget_spent(agent, config, now)
    if spent:
        return _finish(cycle, CycleStatus.WAIT, reason="budget_reached", error=spent)
    account = account_of(agent)
    if account is None:
        return _finish(cycle, CycleStatus.WAIT, reason="no_wallet")
    try:
        context, facts = _context(agent, config, account, now)
    except ExternalServiceError as error:
        return _finish(cycle, CycleStatus.WAIT, reason="market_data_unavailable", error=str(error))
    messages = rules.prompt_messages(context)
    cycle.prompt = messages
    cycle.inputs_digest = rules.inputs_digest(messages)
    try:
        answer = model_ask(
            base_url=credential.base_url,
            api_key=llm_key_open(credential),
            model=credential.model,
            messages=messages,
            format_kind=credential.response_format,
            timeout_seconds=ai.timeout_seconds,
        )
    except ModelUnavailable as failure:
        return _finish(cycle, CycleStatus.WAIT, reason=failure.reason, error=str(failure))
    except rules.AnswerInvalid as invalid:
        return _finish(cycle, CycleStatus.WAIT, reason=invalid.reason, error=str(invalid))
    _usage_record(cycle, credential, answer)
    if answer.finish_reason == "length":
        return _finish(
            cycle, CycleStatus.WAIT, reason="malformed_answer", error="the answer was cut off"
        )
    try:
        parsed = rules.answer_parse(answer.text)
    except rules.AnswerInvalid as invalid:
        return _finish(cycle, CycleStatus.WAIT, reason=invalid.reason, error=str(invalid))
    cycle.reasoning = "\n\n".join(part for part in (answer.thinking, parsed.reasoning) if part)
    _decisions_record(cycle, parsed.decisions, rules.verdicts(parsed.decisions, facts))
    _execute(cycle, agent)
    _finish(cycle, CycleStatus.DONE)


def _budget_spent(agent: Agent, config: AgentConfig, now: datetime) -> str:
    """Why the agent's model budget for today (UTC) is spent, or ""."""
    ai = config.ai_strategist
    if ai.daily_token_budget is None and ai.daily_cost_budget_usd is None:
        return ""
    day = datetime.combine(now.date(), time(), tzinfo=UTC)
    tokens, cost = tokens_spent_since(agent.pk, day)
    if ai.daily_token_budget is not None and tokens >= ai.daily_token_budget:
        return f"{tokens} tokens used today, budget {ai.daily_token_budget}"
    budget = ai.daily_cost_budget_usd
    if budget is not None and cost >= budget:
        return f"{money.as_str(cost)} USD spent today, budget {money.as_str(budget)}"
    return ""


def _usage_record(cycle: StrategistCycle, credential: LlmCredential, answer) -> None:
    cycle.raw_answer = answer.text
    cycle.prompt_tokens = answer.prompt_tokens
    cycle.completion_tokens = answer.completion_tokens
    cycle.latency_ms = answer.latency_ms
    cycle.cost_usd = money.price(
        (
            answer.prompt_tokens * credential.input_usd_per_million_tokens
            + answer.completion_tokens * credential.output_usd_per_million_tokens
        )
        / MILLION
    )


def _finish(cycle: StrategistCycle, status: str, *, reason: str = "", error: str = "") -> None:
    cycle.status = status
    cycle.reason = reason
    cycle.error = error[:2000]
    cycle.finished_at = datetime.now(UTC)
    cycle.save()
    outcomes = list(cycle.decisions.values_list("outcome", flat=True))
    realtime.strategist_cycle(
        cycle.agent_id,
        {
            "cycle_id": cycle.pk,
            "status": status,
            "reason": reason,
            "decisions": len(outcomes),
            "executed": outcomes.count(DecisionOutcome.EXECUTED),
        },
    )


# --- The context --------------------------------------------------------------------------------


def _context(
    agent: Agent, config: AgentConfig, account: Account, now: datetime
) -> tuple[dict, rules.RiskFacts]:
    """What the model is shown, and the facts its decisions are checked against."""
    ai = config.ai_strategist
    held = [position.token_address for position in account.positions]
    wanted = signal_tokens(
        agent.owner_id, since=now - SIGNAL_CANDIDATE_WINDOW, limit=ai.max_candidates
    )
    offered = [mint for mint, _ in wanted if mint not in held]
    if ai.use_token_boosts:
        offered += [mint for mint in boosted_tokens_fetch() if mint not in {*held, *offered}]
    offered = offered[: ai.max_candidates]
    markets = token_markets_fetch(sorted({*held, *offered}))
    candidates = [mint for mint in offered if _wanted(markets.get(mint), ai)]
    history = price_candles(
        [*held, *candidates], since=now - timedelta(minutes=ai.price_history_minutes)
    )
    prices = _prices(held, markets)
    prices.update({mint: markets[mint].price_sol for mint in candidates})
    equity = wallet_valuations([account.wallet.pk])[account.wallet.pk].equity_sol
    limits = rules.Limits(
        max_open_positions=config.risk.max_open_positions,
        max_position_sol=ai.max_position_sol,
        max_position_equity_percent=ai.max_position_equity_percent,
        min_reward_risk=ai.min_reward_risk,
    )
    context = {
        "agent": {"name": agent.name, "trading_mode": agent.trading_mode},
        "now": now.isoformat(),
        "limits": {
            "max_open_positions": limits.max_open_positions,
            "free_slots": max(limits.max_open_positions - len(held), 0),
            "max_position_sol": money.as_str(limits.max_position_sol),
            "max_position_equity_percent": money.as_str(limits.max_position_equity_percent),
            "min_reward_risk": money.as_str(limits.min_reward_risk),
        },
        "account": {
            "equity_sol": money.as_str(money.amount(equity)),
            "sol_free": money.as_str(account.sol_free),
            "open_positions": len(held),
        },
        "positions": [
            {
                **position_facts(position, prices.get(position.token_address), now),
                "indicators": rules.indicators(history.get(position.token_address, [])),
            }
            for position in account.positions
        ],
        "candidates": [
            _candidate_facts(markets[mint], history.get(mint, [])) for mint in candidates
        ],
        "performance": feedback(account.wallet, trades_shown=ai.feedback_trades, now=now),
    }
    facts = rules.RiskFacts(
        limits=limits,
        equity_sol=equity,
        sol_free=account.sol_free,
        held=frozenset(held),
        prices=prices,
        candidates=frozenset(candidates),
        opens_blocked=_opens_blocked(agent, now),
        closes_blocked="kill_switch_halt" if kill_switch_mode() == "halt" else None,
        refused_tokens=_refused_tokens(config, candidates, markets),
    )
    return context, facts


def _wanted(market: TokenMarket | None, ai) -> bool:
    """A candidate with a market, deep and big enough for the strategist's floors."""
    if market is None:
        return False
    floor = ai.candidate_liquidity_min_usd
    if floor is not None and market.liquidity_usd < floor:
        return False
    cap_floor = ai.candidate_market_cap_min_usd
    if cap_floor is None:
        return True
    return market.market_cap_usd is not None and market.market_cap_usd >= cap_floor


def _prices(held: list[str], markets: dict[str, TokenMarket]) -> dict[str, Decimal]:
    """The held tokens' prices: the engine's own latest, else the market's."""
    latest = latest_prices(held)
    found = {mint: markets[mint].price_sol for mint in held if mint in markets}
    found.update({mint: price.price_sol for mint, price in latest.items()})
    return found


def _candidate_facts(market: TokenMarket, series: list[rules.Candle]) -> dict:
    def shown(value):
        return money.as_str(value) if value is not None else None

    return {
        "token_address": market.mint,
        "symbol": market.symbol,
        "price": money.as_str(market.price_sol),
        "price_usd": shown(market.price_usd),
        "liquidity_usd": money.as_str(market.liquidity_usd),
        "market_cap_usd": shown(market.market_cap_usd),
        "volume_24h_usd": shown(market.volume_24h_usd),
        "price_change_1h_percent": shown(market.price_change_1h_percent),
        "price_change_24h_percent": shown(market.price_change_24h_percent),
        "indicators": rules.indicators(series),
    }


def _opens_blocked(agent: Agent, now: datetime) -> str | None:
    mode = kill_switch_mode()
    if mode in ("halt", "reduce_only"):
        return f"kill_switch_{mode}"
    if pauses_current([agent.pk], now).get(agent.pk):
        return "risk_paused"
    return None


def _refused_tokens(
    config: AgentConfig, candidates: list[str], markets: dict[str, TokenMarket]
) -> dict[str, str]:
    """The agent's own token filters, applied to the strategist's candidates."""
    signals = config.signals
    refused = {}
    for mint in candidates:
        market = markets[mint]
        if signals.token_filter_mode == "blacklist" and mint in signals.token_list:
            refused[mint] = "token_blacklisted"
        elif signals.token_filter_mode == "whitelist" and mint not in signals.token_list:
            refused[mint] = "token_not_whitelisted"
        elif not _within(market.liquidity_usd, signals.liquidity_min, signals.liquidity_max):
            refused[mint] = "liquidity_out_of_range"
        elif not _within(market.market_cap_usd, signals.market_cap_min, signals.market_cap_max):
            refused[mint] = "market_cap_out_of_range"
    return refused


def _within(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


# --- Decisions and their execution --------------------------------------------------------------


def _decisions_record(cycle, decisions, verdicts) -> None:
    """The answer's decisions with their verdicts, and the cycle moved to executing, at once:
    from here a crash is finished by executing what is still pending."""
    rows = [
        StrategistDecision(
            cycle=cycle,
            index=index,
            action=decision.action,
            token_address=decision.token_address,
            size_sol=decision.size_sol,
            stop_price=decision.stop_price,
            take_profit_price=decision.take_profit_price,
            confidence=decision.confidence,
            reasoning=decision.reasoning,
            verdict=Verdict.ACCEPTED if verdict.accepted else Verdict.REFUSED,
            verdict_reason=verdict.reason,
            verdict_details=verdict.details,
            outcome=_first_outcome(decision.action, verdict),
            outcome_reason="hold" if decision.action == DecisionAction.HOLD else "",
        )
        for index, (decision, verdict) in enumerate(zip(decisions, verdicts, strict=True))
    ]
    with transaction.atomic():
        StrategistDecision.objects.bulk_create(rows)
        cycle.status = CycleStatus.EXECUTING
        cycle.save()


def _first_outcome(action: str, verdict: rules.Verdict) -> str:
    if not verdict.accepted or action == DecisionAction.HOLD:
        return DecisionOutcome.SKIPPED
    return DecisionOutcome.PENDING


def _execute(cycle: StrategistCycle, agent: Agent) -> None:
    """Every pending decision of the cycle: closes first, then opens."""
    pending = list(cycle.decisions.filter(outcome=DecisionOutcome.PENDING).order_by("index"))
    for decision in sorted(pending, key=lambda d: d.action != DecisionAction.CLOSE):
        try:
            if decision.action == DecisionAction.CLOSE:
                _close(decision, agent)
            else:
                _open(decision, agent, cycle)
        except (DomainError, ExternalServiceError) as error:
            _outcome(decision, DecisionOutcome.FAILED, getattr(error, "code", "venue_error"))
        except Exception:
            logger.exception("strategist cycle %s decision %s failed", cycle.pk, decision.index)
            _outcome(decision, DecisionOutcome.FAILED, "internal_error")


def _outcome(decision: StrategistDecision, outcome: str, reason: str = "", **links) -> None:
    """Record a decision's outcome once: only a decision still pending moves."""
    StrategistDecision.objects.filter(pk=decision.pk, outcome=DecisionOutcome.PENDING).update(
        outcome=outcome, outcome_reason=reason[:64], **links
    )


def _close(decision: StrategistDecision, agent: Agent) -> None:
    positions = Position.objects.filter(
        agent=agent, wallet__mode=agent.trading_mode, token_address=decision.token_address
    )
    position = positions.filter(status=PositionStatus.OPEN).first()
    if position is None:
        # Closed already: by this decision before a crash, or by a rule since the answer.
        closed = positions.filter(close_reason=CloseReason.AI).order_by("-closed_at").first()
        if closed is not None and closed.closed_at >= decision.cycle.started_at:
            return _outcome(decision, DecisionOutcome.EXECUTED, position_id=closed.pk)
        return _outcome(decision, DecisionOutcome.SKIPPED, "position_not_open")
    trade = position_close(position_id=position.pk, reason=CloseReason.AI)
    if trade is None:
        return _outcome(decision, DecisionOutcome.SKIPPED, "position_not_open")
    _outcome(decision, DecisionOutcome.EXECUTED, position_id=position.pk)


def _open(decision: StrategistDecision, agent: Agent, cycle: StrategistCycle) -> None:
    """An open is a signal for the agent alone, bought through the normal fan-out: the
    signal's idempotency key is the decision's, and the buy's is the signal's, so a retried
    cycle finds both and buys nothing twice."""
    # The prompt is read once for the candidate's price (the stop's base) and symbol.
    shown = _shown_candidate(cycle, decision.token_address)
    price = Decimal(shown["price"]) if shown.get("price") else None
    signal, _ = signal_create(
        owner=agent.owner,
        token_address=decision.token_address,
        signal_type=SIGNAL_TYPE,
        signal_strength=_strength(decision.confidence),
        symbol=str(shown.get("symbol") or "")[:32],
        activation_reason=decision.reasoning[:2000],
        source=SOURCE,
        agent=agent,
        idempotency_key=f"ai:{cycle.pk}:{decision.index}",
        size_sol=decision.size_sol,
        stop_loss_percent=rules.stop_loss_percent(decision.stop_price, price) if price else None,
    )
    fan_out = signal_fan_out(signal_id=signal.pk)
    signal_execute_decided(fan_out, fan_out.pending)
    execution = SignalExecution.objects.filter(signal=signal, agent=agent).first()
    if execution is None or execution.status == ExecutionStatus.PENDING:
        return _outcome(decision, DecisionOutcome.FAILED, "not_executed", signal_id=signal.pk)
    outcome = {
        ExecutionStatus.EXECUTED: DecisionOutcome.EXECUTED,
        ExecutionStatus.SKIPPED: DecisionOutcome.SKIPPED,
    }.get(execution.status, DecisionOutcome.FAILED)
    _outcome(
        decision,
        outcome,
        execution.reason,
        signal_id=signal.pk,
        position_id=execution.position_id,
    )


def _shown_candidate(cycle: StrategistCycle, mint: str) -> dict:
    """The candidate as the cycle showed it to the model (its price and symbol)."""
    context = json.loads(cycle.prompt[-1]["content"]) if cycle.prompt else {}
    for candidate in context.get("candidates", []):
        if candidate.get("token_address") == mint:
            return candidate
    return {}


def _strength(confidence: Decimal | None) -> int:
    """The signal strength (1..5) of a decision's confidence (0..1)."""
    if confidence is None:
        return 3
    return max(1, min(5, int(confidence * 5) + 1))
