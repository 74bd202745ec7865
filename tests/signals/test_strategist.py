"""The AI strategist's whole cycles against localnet's Chat Completions endpoint, through the
real `openai` SDK: what it shows the model, opens and closes executed exactly once through
the normal services, the risk manager refusing what it must, every failure mode ending in
`wait` with nothing executed, the daily budget, one cycle at a time per agent, and a crash
mid-cycle executing nothing twice."""

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agents.services import agent_create
from prices.selectors import LatestPrice
from prices.services import price_history_record
from signals_app.models import (
    CycleStatus,
    DecisionOutcome,
    LlmCredential,
    SignalExecution,
    StrategistCycle,
    StrategistDecision,
    TradingSignal,
)
from signals_app.services import signal_create
from signals_app.strategist_services import (
    llm_credential_set,
    llm_key_open,
    strategist_cycle_run,
    strategist_cycles_due,
)
from tests.backends import on_postgres
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, Position, PositionStatus, Transaction
from trading.risk_services import kill_switch_set
from trading.services import position_buy

pytestmark = pytest.mark.django_db

MODEL = "localnet-strategist"
KEY = "sk-test-strategist-key-0123456789"
SLOT = datetime(2026, 1, 1, tzinfo=UTC)


def _slot(n: int) -> datetime:
    return SLOT + timedelta(minutes=3 * n)


@pytest.fixture
def strategist(user, localnet):
    llm_credential_set(owner=user, base_url=f"{localnet.url}/v1", model=MODEL, api_key=KEY)
    return _ai_agent(user, "Strategist")


def _ai_agent(owner, name, **ai):
    agent = agent_create(
        owner=owner,
        name=name,
        config={"signals": {"decision_source": "ai"}, "ai_strategist": ai},
    )
    balance_deposit(wallet=agent.wallets.get(mode="simulation"), amount=Decimal("10"))
    return agent


def _candidate(market, owner, symbol, *, start, end, minutes=30):
    """A token whose recorded price went from `start` to `end` SOL over the last minutes, and
    a posted signal that makes it a candidate."""
    token = market.add_token(
        symbol=symbol, price_sol=Decimal(end), decimals=6, liquidity_sol=Decimal("3000")
    )
    now = datetime.now(UTC)
    start, end = Decimal(start), Decimal(end)
    price_history_record(
        [
            LatestPrice(
                mint=token,
                price_sol=start + (end - start) * step / minutes,
                price_usd=None,
                source="test",
                observed_at=now - timedelta(minutes=minutes - step),
            )
            for step in range(minutes + 1)
        ]
    )
    signal_create(owner=owner, token_address=token, signal_type="BUY", signal_strength=3)
    return token


def _run(agent, n=0):
    return strategist_cycle_run(agent_id=agent.pk, slot=_slot(n))


def _decisions(cycle):
    return list(
        cycle.decisions.order_by("index").values_list(
            "action", "token_address", "verdict", "verdict_reason", "outcome", "outcome_reason"
        )
    )


def test_a_cycle_opens_the_best_candidate_for_its_agent_alone(
    market, user, strategist, django_capture_on_commit_callbacks
):
    best = _candidate(market, user, "BEST", start="0.001", end="0.0015")
    _candidate(market, user, "SLOW", start="0.001", end="0.0011")
    _candidate(market, user, "DOWN", start="0.002", end="0.0015")
    neighbour = agent_create(owner=user, name="Posted only")

    with django_capture_on_commit_callbacks(execute=True):
        cycle = _run(strategist)

    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.DONE, (cycle.reason, cycle.error)
    assert _decisions(cycle) == [("open", best, "accepted", "", "executed", "")]
    decision = cycle.decisions.get()
    position = Position.objects.get(agent=strategist)
    assert decision.position_id == position.pk and position.token_address == best
    # The model's size (the policy's 0.1 SOL) was bought, not the agent's sizing.
    buy = Transaction.objects.get(position=position, type="SWAP")
    assert buy.input_amount - buy.protocol_fee_sol - buy.network_fee_sol == Decimal("0.1")
    # The model's stop (10 % under the price it was shown) became the position's stop.
    assert position.stop_loss_percent == Decimal("-10")
    signal = decision.signal
    assert (signal.source, signal.agent_id, signal.signal_type) == ("ai", strategist.pk, "AI")
    assert not SignalExecution.objects.filter(agent=neighbour).exists()
    assert cycle.prompt_tokens > 0 and cycle.completion_tokens > 0
    assert cycle.latency_ms is not None and cycle.model == MODEL
    assert "BEST" in cycle.reasoning and json.loads(cycle.raw_answer)["decisions"]
    assert len(cycle.inputs_digest) == 64


def test_the_model_is_shown_the_account_candidates_indicators_and_feedback(
    market, user, strategist, django_capture_on_commit_callbacks
):
    # Two hours of prices: 24 five-minute candles, enough for every indicator.
    rising = _candidate(market, user, "RISE", start="0.001", end="0.002", minutes=118)
    held = market.add_token(symbol="HELD", price_sol=Decimal("0.01"), decimals=6)
    position_buy(
        agent=strategist,
        wallet=strategist.wallets.get(),
        token_address=held,
        sol_amount=Decimal("0.5"),
    )

    with django_capture_on_commit_callbacks(execute=True):
        _run(strategist)

    request = market.llm.requests[0]
    assert request["model"] == MODEL
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True
    system, user_message = request["messages"]
    assert system["role"] == "system" and "max_position_sol" in system["content"]
    shown = json.loads(user_message["content"])
    assert [c["token_address"] for c in shown["candidates"]] == [rising]
    indicators = shown["candidates"][0]["indicators"]
    assert indicators["change_percent"] == "100.00"
    assert all(indicators[name] is not None for name in ("rsi", "ema_fast", "ema_slow", "atr"))
    # A price that only rose: RSI at its top.
    assert indicators["rsi"] == "100"
    assert [p["token_address"] for p in shown["positions"]] == [held]
    assert shown["positions"][0]["entry_price"] and shown["positions"][0]["stop_price"]
    assert shown["limits"]["max_position_sol"] == "0.5"
    assert shown["limits"]["free_slots"] == 24
    assert Decimal(shown["account"]["sol_free"]) < Decimal("9.5")
    assert set(shown["performance"]) >= {"win_rate_percent", "profit_factor", "last_trades"}


def test_closes_run_before_opens_and_a_second_run_of_the_slot_does_nothing(
    market, user, strategist, django_capture_on_commit_callbacks
):
    loser = market.add_token(symbol="LOSE", price_sol=Decimal("0.01"), decimals=6)
    position = position_buy(
        agent=strategist,
        wallet=strategist.wallets.get(),
        token_address=loser,
        sol_amount=Decimal("0.5"),
        stop_loss_percent=Decimal("-90"),
    ).position
    market.set_price(loser, Decimal("0.008"))
    winner = _candidate(market, user, "WIN", start="0.001", end="0.0013")

    with django_capture_on_commit_callbacks(execute=True):
        cycle = _run(strategist)
        again = _run(strategist)

    assert again is None
    assert [(d[0], d[1], d[4]) for d in _decisions(cycle)] == [
        ("close", loser, "executed"),
        ("open", winner, "executed"),
    ]
    trade = ClosedTrade.objects.get(position=position)
    assert trade.close_reason == "ai"
    sale = Transaction.objects.filter(position=position).order_by("pk").last()
    buy = Transaction.objects.get(position__token_address=winner)
    assert sale.pk < buy.pk
    assert Position.objects.filter(agent=strategist).count() == 2
    assert len(market.llm.requests) == 1


def _answer(*decisions, reasoning="test"):
    return {"reasoning": reasoning, "decisions": list(decisions)}


def _open(token, size="0.1", stop=None, take_profit=None):
    return {
        "action": "open",
        "token_address": token,
        "size_sol": size,
        "stop_price": stop,
        "take_profit_price": take_profit,
        "confidence": 0.6,
        "reasoning": "why not",
    }


def _close(token):
    return {**_open(token, size=None), "action": "close"}


def test_the_risk_manager_refuses_each_decision_that_breaks_a_rule(
    market, user, strategist, django_capture_on_commit_callbacks
):
    strategist.config["ai_strategist"] = {"max_position_sol": "1", "min_reward_risk": "2"}
    strategist.config["risk"] = {"max_open_positions": 3}
    strategist.save()
    a = _candidate(market, user, "AAA", start="0.001", end="0.001")
    b = _candidate(market, user, "BBB", start="0.001", end="0.001")
    c = _candidate(market, user, "CCC", start="0.001", end="0.001")
    held = market.add_token(symbol="HELD", price_sol=Decimal("0.001"), decimals=6)
    position_buy(
        agent=strategist,
        wallet=strategist.wallets.get(),
        token_address=held,
        sol_amount=Decimal("0.1"),
    )
    unknown = market.add_token(symbol="UNK", price_sol=Decimal("0.001"), decimals=6)
    market.llm.push_answer(
        _answer(
            _open(unknown),  # not shown to the model
            _open(held),  # already held
            _open(a, size="1.5"),  # above max_position_sol
            _open(a, size="0"),  # no size
            _open(a, stop="0.002"),  # stop above the price
            _open(a, take_profit="0.0009"),  # take profit below the price
            _open(a, stop="0.0009", take_profit="0.00115"),  # reward:risk 1.5
            _open(a, stop="0.0009", take_profit="0.0012"),  # accepted (2:1)
            _open(a),  # the same token twice
            _open(b),  # accepted: the third position
            _open(c),  # over max_open_positions
            _close(unknown),  # not held
            {**_open(a, size=None), "action": "hold"},
        )
    )

    with django_capture_on_commit_callbacks(execute=True):
        cycle = _run(strategist)

    verdicts = [(d[2], d[3]) for d in _decisions(cycle)]
    assert verdicts == [
        ("refused", "not_a_candidate"),
        ("refused", "position_exists"),
        ("refused", "size_above_limit"),
        ("refused", "size_missing"),
        ("refused", "stop_not_below_price"),
        ("refused", "take_profit_not_above_price"),
        ("refused", "reward_risk_too_low"),
        ("accepted", ""),
        ("refused", "position_exists"),
        ("accepted", ""),
        ("refused", "max_open_positions"),
        ("refused", "not_held"),
        ("accepted", ""),
    ]
    assert cycle.decisions.get(index=6).verdict_details == {
        "reward_risk": "1.50",
        "min_reward_risk": "2",
    }
    assert sorted(
        Position.objects.filter(agent=strategist, status=PositionStatus.OPEN).values_list(
            "token_address", flat=True
        )
    ) == sorted([held, a, b])
    assert cycle.decisions.get(index=12).outcome_reason == "hold"


def test_sizes_are_held_to_the_equity_share_and_the_free_sol(
    market, user, strategist, django_capture_on_commit_callbacks
):
    strategist.config["ai_strategist"] = {
        "max_position_sol": "100",
        "max_position_equity_percent": "60",
    }
    strategist.save()
    a = _candidate(market, user, "AAA", start="0.001", end="0.001")
    b = _candidate(market, user, "BBB", start="0.001", end="0.001")
    c = _candidate(market, user, "CCC", start="0.001", end="0.001")
    # Equity 10 SOL: at most 6 SOL a position; 5 SOL spent leaves 5 free.
    market.llm.push_answer(_answer(_open(a, size="6.5"), _open(b, size="5"), _open(c, size="5.5")))

    with django_capture_on_commit_callbacks(execute=True):
        cycle = _run(strategist)

    assert [(d[2], d[3]) for d in _decisions(cycle)] == [
        ("refused", "size_above_equity_share"),
        ("accepted", ""),
        ("refused", "insufficient_balance"),
    ]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("reduce_only", [("accepted", ""), ("refused", "kill_switch_reduce_only")]),
        ("halt", [("refused", "kill_switch_halt"), ("refused", "kill_switch_halt")]),
    ],
)
def test_the_kill_switch_refuses_opens_and_a_halt_closes_too(
    market, user, strategist, mode, expected, django_capture_on_commit_callbacks
):
    held = market.add_token(symbol="HELD", price_sol=Decimal("0.001"), decimals=6)
    position_buy(
        agent=strategist,
        wallet=strategist.wallets.get(),
        token_address=held,
        sol_amount=Decimal("0.1"),
    )
    a = _candidate(market, user, "AAA", start="0.001", end="0.002")
    kill_switch_set(mode=mode, user=user)
    market.llm.push_answer(_answer(_close(held), _open(a)))

    with django_capture_on_commit_callbacks(execute=True):
        cycle = _run(strategist)

    assert [(d[2], d[3]) for d in _decisions(cycle)] == expected
    assert not Position.objects.filter(token_address=a).exists()


def _inject_timeout(market, strategist):
    strategist.config["ai_strategist"] = {"timeout_seconds": 1}
    strategist.save()
    market.inject_delay("llm", 2.5)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (lambda market, agent: market.inject_fault("llm", status=429), "model_rate_limited"),
        (lambda market, agent: market.inject_fault("llm", status=500), "model_error"),
        (lambda market, agent: market.inject_fault("llm", status=503), "model_error"),
        (_inject_timeout, "model_timeout"),
        (lambda market, agent: market.llm.malformed_next(), "malformed_answer"),
        (lambda market, agent: market.llm.schema_violation_next(), "schema_violation"),
        (
            lambda market, agent: market.llm.push_answer(
                _answer({"action": "buy", "token_address": "x"})
            ),
            "schema_violation",
        ),
        (
            lambda market, agent: market.llm.push_answer("I think you should buy"),
            "malformed_answer",
        ),
    ],
    ids=["429", "500", "503", "timeout", "malformed", "schema", "bad-action", "prose"],
)
def test_every_failure_ends_in_wait_with_nothing_executed(
    market, user, strategist, failure, reason, django_capture_on_commit_callbacks
):
    _candidate(market, user, "RISE", start="0.001", end="0.002")
    failure(market, strategist)

    with django_capture_on_commit_callbacks(execute=True):
        cycle = _run(strategist)

    cycle.refresh_from_db()
    assert (cycle.status, cycle.reason) == (CycleStatus.WAIT, reason), cycle.error
    assert cycle.finished_at is not None and not cycle.decisions.exists()
    assert not TradingSignal.objects.filter(source="ai").exists()
    assert not Position.objects.filter(agent=strategist).exists()
    # The next cycle is not held back by the failed one.
    market.clear_faults()
    with django_capture_on_commit_callbacks(execute=True):
        assert _run(strategist, 1).status == CycleStatus.DONE


def test_the_daily_token_budget_stops_calls(
    market, user, localnet, django_capture_on_commit_callbacks
):
    llm_credential_set(owner=user, base_url=f"{localnet.url}/v1", model=MODEL, api_key=KEY)
    agent = _ai_agent(user, "Thrifty", daily_token_budget=1)

    with django_capture_on_commit_callbacks(execute=True):
        first = _run(agent, 0)
        second = _run(agent, 1)

    assert first.status == CycleStatus.DONE
    assert (second.status, second.reason) == (CycleStatus.WAIT, "budget_reached")
    assert len(market.llm.requests) == 1


def test_without_a_model_the_cycle_waits(user, django_capture_on_commit_callbacks):
    agent = _ai_agent(user, "Modelless")

    cycle = _run(agent)

    assert (cycle.status, cycle.reason) == (CycleStatus.WAIT, "no_model")


def test_the_api_key_is_stored_encrypted(user, localnet):
    credential = llm_credential_set(
        owner=user, base_url=f"{localnet.url}/v1", model=MODEL, api_key=KEY
    )

    stored = LlmCredential.objects.get(pk=credential.pk)
    assert KEY.encode() not in bytes(stored.encrypted_key)
    assert llm_key_open(stored) == KEY


def test_a_crash_mid_cycle_executes_nothing_twice(
    market, user, strategist, django_capture_on_commit_callbacks
):
    loser = market.add_token(symbol="LOSE", price_sol=Decimal("0.01"), decimals=6)
    position_buy(
        agent=strategist,
        wallet=strategist.wallets.get(),
        token_address=loser,
        sol_amount=Decimal("0.5"),
        stop_loss_percent=Decimal("-90"),
    )
    market.set_price(loser, Decimal("0.008"))
    _candidate(market, user, "WIN", start="0.001", end="0.0013")
    with django_capture_on_commit_callbacks(execute=True):
        cycle = _run(strategist)
    # What a worker that died after both trades committed, before it recorded them, leaves.
    cycle.decisions.update(outcome=DecisionOutcome.PENDING, outcome_reason="")
    StrategistCycle.objects.filter(pk=cycle.pk).update(status=CycleStatus.EXECUTING)
    swaps = Transaction.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        _run(strategist, 1)

    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.DONE
    assert list(cycle.decisions.values_list("outcome", flat=True)) == ["executed", "executed"]
    # The next cycle's own decisions aside (the policy has nothing left to do), no new trade.
    assert Transaction.objects.count() == swaps
    assert ClosedTrade.objects.filter(agent=strategist).count() == 1
    assert Position.objects.filter(agent=strategist, status=PositionStatus.OPEN).count() == 1


def test_a_cycle_abandoned_before_its_answer_is_marked_wait(
    market, user, strategist, django_capture_on_commit_callbacks
):
    stuck = StrategistCycle.objects.create(
        agent=strategist, slot=_slot(0), started_at=datetime.now(UTC) - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        _run(strategist, 1)

    stuck.refresh_from_db()
    assert (stuck.status, stuck.reason) == (CycleStatus.WAIT, "abandoned")


def test_due_cycles_are_one_per_agent_and_period(user, localnet):
    llm_credential_set(owner=user, base_url=f"{localnet.url}/v1", model=MODEL, api_key=KEY)
    ai = _ai_agent(user, "Mind", period_minutes=5)
    agent_create(owner=user, name="Posted only")
    now = datetime(2026, 3, 1, 12, 7, tzinfo=UTC)

    assert strategist_cycles_due(now=now) == [(ai.pk, datetime(2026, 3, 1, 12, 5, tzinfo=UTC))]
    StrategistCycle.objects.create(
        agent=ai,
        slot=datetime(2026, 3, 1, 12, 5, tzinfo=UTC),
        started_at=now,
        status=CycleStatus.DONE,
    )
    assert strategist_cycles_due(now=now + timedelta(minutes=2)) == []
    assert strategist_cycles_due(now=now + timedelta(minutes=3)) == [
        (ai.pk, datetime(2026, 3, 1, 12, 10, tzinfo=UTC))
    ]


@on_postgres
def test_two_workers_never_run_cycles_of_one_agent_at_once(market, user, localnet):
    llm_credential_set(owner=user, base_url=f"{localnet.url}/v1", model=MODEL, api_key=KEY)
    agent = _ai_agent(user, "Busy")
    # Every answer takes a while, so the two workers' cycles would overlap if they could.
    market.set_latency("llm", 1.0)
    barrier = threading.Barrier(2, timeout=20)
    results = {}

    def worker(n):
        from django.db import connection

        try:
            barrier.wait()
            results[n] = strategist_cycle_run(agent_id=agent.pk, slot=_slot(n))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    ran = [cycle for cycle in results.values() if cycle is not None]
    assert len(ran) == 1 and len(results) == 2
    assert StrategistCycle.objects.filter(agent=agent).count() == 1
    assert len(market.llm.requests) == 1
    assert StrategistDecision.objects.filter(cycle__agent=agent).count() == len(
        ran[0].decisions.all()
    )


def test_boosted_tokens_are_candidates_when_the_agent_asks_for_them(
    market, user, localnet, django_capture_on_commit_callbacks
):
    llm_credential_set(owner=user, base_url=f"{localnet.url}/v1", model=MODEL, api_key=KEY)
    plain = _ai_agent(user, "Plain")
    boosted_agent = _ai_agent(user, "Boosted", use_token_boosts=True)
    boosted = market.add_token(symbol="BOOST", price_sol=Decimal("0.001"), decimals=6)
    market.boost(boosted, 50)

    with django_capture_on_commit_callbacks(execute=True):
        _run(plain)
        _run(boosted_agent)

    shown = [json.loads(r["messages"][-1]["content"]) for r in market.llm.requests]
    assert [[c["token_address"] for c in s["candidates"]] for s in shown] == [[], [boosted]]


def test_the_model_key_is_never_logged(market, user, strategist, caplog):
    import logging

    _candidate(market, user, "RISE", start="0.001", end="0.002")
    market.inject_fault("llm", status=401)
    with caplog.at_level(logging.DEBUG):
        _run(strategist, 0)
        _run(strategist, 1)

    assert caplog.records and KEY not in caplog.text


def test_the_daily_cost_budget_stops_calls_and_each_cycle_is_priced(
    market, user, localnet, django_capture_on_commit_callbacks
):
    llm_credential_set(
        owner=user,
        base_url=f"{localnet.url}/v1",
        model=MODEL,
        api_key=KEY,
        input_usd_per_million_tokens=Decimal("2"),
        output_usd_per_million_tokens=Decimal("8"),
    )
    agent = _ai_agent(user, "Priced", daily_token_budget=None, daily_cost_budget_usd="0.000001")

    with django_capture_on_commit_callbacks(execute=True):
        first = _run(agent, 0)
        second = _run(agent, 1)

    first.refresh_from_db()
    expected = (
        first.prompt_tokens * Decimal("2") + first.completion_tokens * Decimal("8")
    ) / Decimal(1_000_000)
    assert first.cost_usd == expected and first.cost_usd > Decimal("0.000001")
    assert (second.status, second.reason) == (CycleStatus.WAIT, "budget_reached")
    assert "USD spent today" in second.error
    assert len(market.llm.requests) == 1


def test_finished_cycles_past_retention_are_purged_with_their_decisions(
    market, user, strategist, settings, django_capture_on_commit_callbacks
):
    from signals_app.strategist_services import strategist_cycles_purge

    settings.STRATEGIST_CYCLE_RETENTION_DAYS = 30
    _candidate(market, user, "RISE", start="0.001", end="0.002")
    with django_capture_on_commit_callbacks(execute=True):
        old = _run(strategist, 0)
    now = datetime.now(UTC)
    StrategistCycle.objects.filter(pk=old.pk).update(started_at=now - timedelta(days=31))
    recent = StrategistCycle.objects.create(
        agent=strategist, slot=_slot(1), started_at=now - timedelta(days=29), status="done"
    )
    stuck = StrategistCycle.objects.create(
        agent=strategist, slot=_slot(2), started_at=now - timedelta(days=40)
    )
    assert StrategistDecision.objects.filter(cycle=old).exists()

    assert strategist_cycles_purge(now=now) == 1

    assert set(StrategistCycle.objects.values_list("pk", flat=True)) == {recent.pk, stuck.pk}
    assert not StrategistDecision.objects.filter(cycle_id=old.pk).exists()
    # The trade the purged cycle made stays in the ledger.
    assert Position.objects.filter(agent=strategist).count() == 1
