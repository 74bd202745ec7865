"""The fan-out: one pass with a bounded number of queries, the eligible agents' buys handed out
in batches (tests/signals/test_buy_batches.py), a failing agent never blocking the others, and no
double buy on duplicate delivery."""

from decimal import Decimal

import pytest

from agents.services import agent_create
from signals_app import tasks
from signals_app.models import SignalExecution
from signals_app.services import signal_create, signal_execute_batch, signal_fan_out
from trading.ledger_services import balance_deposit
from trading.models import Position
from trading.services import position_buy

pytestmark = pytest.mark.django_db

# Every guard and a metric bound configured, so every read the fan-out can make is made.
EVERYTHING_ON = {
    "signals": {"market_cap_min": "1"},
    "risk": {
        "daily_loss_limit_sol": "5",
        "max_drawdown_percent": "50",
        "cooldown_after_stop_losses": {"count": 3, "window_minutes": 60, "pause_minutes": 30},
    },
}
# Measured at 25 on both backends (savepoints included) for a token new to the engine, 2 of
# them to look its decimals up and store them; the same for 3 agents as for 30.
MAX_FAN_OUT_QUERIES = 27


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="WIF", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("5000")
    )


@pytest.fixture
def other_token(market):
    return market.add_token(
        symbol="POPCAT", price_sol=Decimal("0.01"), decimals=6, liquidity_sol=Decimal("5000")
    )


@pytest.fixture
def held(market):
    return market.add_token(
        symbol="BONK", price_sol=Decimal("0.0001"), decimals=5, liquidity_sol=Decimal("5000")
    )


def _agents(owner, count, *, config=None, held_token=None):
    agents = []
    for n in range(count):
        agent = agent_create(owner=owner, name=f"Agent {n:03}", config=config or {})
        wallet = agent.wallets.get(mode="simulation")
        balance_deposit(wallet=wallet, amount=Decimal("10"))
        if held_token:
            position_buy(
                agent=agent,
                wallet=wallet,
                token_address=held_token,
                sol_amount=Decimal("0.1"),
                stop_loss_percent=Decimal("-32"),
            )
        agents.append(agent)
    return agents


def _signal(owner, token, signal_type="BUY"):
    # Recorded only: each test runs its fan-out itself.
    signal, _ = signal_create(
        owner=owner, token_address=token, signal_type=signal_type, signal_strength=3
    )
    return signal


def _fan_out_queries(owner, token, assert_max_queries) -> int:
    signal = _signal(owner, token)
    with assert_max_queries(MAX_FAN_OUT_QUERIES) as queries:
        fan_out = signal_fan_out(signal_id=signal.pk)
    # Every agent eligible: the whole decision path ran for each of them.
    assert len(fan_out.pending) == owner.agents.count()
    return len(queries)


def test_fan_out_queries_do_not_grow_with_the_number_of_agents(
    localnet, user, other_user, token, other_token, held, django_assert_max_num_queries
):
    _agents(user, 3, config=EVERYTHING_ON, held_token=held)
    _agents(other_user, 30, config=EVERYTHING_ON, held_token=held)

    # Each signal is about a token new to the engine: both look its decimals up once.
    few = _fan_out_queries(user, token, django_assert_max_num_queries)
    many = _fan_out_queries(other_user, other_token, django_assert_max_num_queries)

    assert few == many


def test_a_second_signal_costs_no_more_queries_than_the_first(
    localnet, user, token, held, django_assert_max_num_queries
):
    # The first evaluation stores each wallet's equity peak; later ones only read them.
    _agents(user, 5, config=EVERYTHING_ON)
    first = _fan_out_queries(user, token, django_assert_max_num_queries)
    assert _fan_out_queries(user, held, django_assert_max_num_queries) <= first


def test_one_agents_failing_buy_does_not_stop_the_others(localnet, market, user, token):
    agents = _agents(user, 3)
    signal = _signal(user, token)
    # The first buy's quote comes back as a truncated body: that agent's buy raises.
    market.inject_malformed("jupiter_quote", count=1)
    tasks.signal_fan_out(signal.pk)  # one batch, bought in order

    outcomes = sorted(SignalExecution.objects.filter(signal=signal).values_list("status", "reason"))
    assert outcomes == [("executed", ""), ("executed", ""), ("failed", "venue_error")]
    failed = SignalExecution.objects.get(signal=signal, status="failed")
    assert "jupiter_quote" in failed.error
    assert Position.objects.filter(agent__in=agents).count() == 2
    assert not Position.objects.filter(agent=failed.agent).exists()


def test_a_fan_out_delivered_twice_buys_once_per_agent(localnet, user, token):
    agents = _agents(user, 3)
    signal = _signal(user, token)
    first = signal_fan_out(signal_id=signal.pk)
    second = signal_fan_out(signal_id=signal.pk)
    assert first.pending == second.pending == sorted(a.pk for a in agents)
    # Each delivery's batch dispatched before any buy ran.
    for fan_out in (first, second):
        for batch in fan_out.batches():
            signal_execute_batch(signal_id=signal.pk, agent_ids=batch, decimals=fan_out.decimals)

    assert Position.objects.filter(agent__in=agents).count() == 3
    assert SignalExecution.objects.filter(signal=signal, status="executed").count() == 3
    assert SignalExecution.objects.filter(signal=signal).count() == 3


def test_a_redelivered_fan_out_changes_no_recorded_decision(localnet, user, token):
    (agent,) = _agents(user, 1)
    signal = _signal(user, token)
    tasks.signal_fan_out(signal.pk)
    assert signal_fan_out(signal_id=signal.pk).pending == []
    execution = SignalExecution.objects.get(signal=signal)
    assert (execution.agent_id, execution.status) == (agent.pk, "executed")
    assert Position.objects.filter(agent=agent).count() == 1


def _price_requests_for(market, mint) -> int:
    return sum(mint in ",".join(r.query.get("ids", [])) for r in market.recorded("jupiter_price"))


def test_a_new_tokens_decimals_are_asked_once_and_stored_for_the_buys(
    localnet, market, user, token
):
    from prices.models import Token

    agents = _agents(user, 3)
    signal = _signal(user, token)
    tasks.signal_fan_out(signal.pk)
    assert SignalExecution.objects.filter(signal=signal).count() == len(agents)
    assert _price_requests_for(market, token) == 1
    assert Token.objects.get(mint=token).decimals == 6
    assert SignalExecution.objects.filter(signal=signal, status="executed").count() == 3


def test_no_decimals_request_when_no_agent_could_buy(localnet, market, user, token):
    _agents(user, 2, config={"signals": {"min_score": 5}})
    signal = _signal(user, token)  # strength 3
    assert signal_fan_out(signal_id=signal.pk).pending == []
    assert _price_requests_for(market, token) == 0
