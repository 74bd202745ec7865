"""One agent's config that the engine cannot read (stored past the schema, as raw SQL or an
older version could leave it) fails that agent alone: the signal's fan-out still decides and
buys for every other agent, a queued batch still buys for the others, and the tick still sells
the other agents' positions. The failed agent's execution says why."""

from decimal import Decimal

import pytest

from agents.models import Agent
from agents.services import agent_create
from signals_app.models import SignalExecution
from signals_app.services import signal_create, signal_execute_batch, signal_fan_out
from signals_app.tasks import signal_fan_out as signal_fan_out_task
from trading.ledger_services import balance_deposit
from trading.models import Position
from trading.services import position_buy
from trading.tasks import price_poll

pytestmark = pytest.mark.django_db

UNREADABLE = {"stop_loss": 5}


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="BONK", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("5000")
    )


def _funded(owner, name):
    agent = agent_create(owner=owner, name=name)
    balance_deposit(wallet=agent.wallets.get(mode="simulation"), amount=Decimal("10"))
    return agent


def _corrupt(agent) -> None:
    Agent.objects.filter(pk=agent.pk).update(config=UNREADABLE)  # past save()'s check


def _signal(owner, token):
    signal, _ = signal_create(
        owner=owner, token_address=token, signal_type="BUY", signal_strength=3
    )
    return signal


def _outcome(signal, agent):
    return SignalExecution.objects.values("status", "reason", "error", "details").get(
        signal=signal, agent=agent
    )


def _assert_failed_on_its_config(outcome) -> None:
    assert (outcome["status"], outcome["reason"]) == ("failed", "invalid_config")
    assert "stop_loss" in outcome["error"]
    assert [detail["field"] for detail in outcome["details"]["fields"]] == ["stop_loss"]


def test_the_fan_out_fails_that_agent_and_buys_for_the_others(localnet, user, token):
    broken, healthy = _funded(user, "Broken"), _funded(user, "Healthy")
    _corrupt(broken)
    signal = _signal(user, token)

    signal_fan_out_task(signal.pk)  # eager: the fan-out and its buys

    _assert_failed_on_its_config(_outcome(signal, broken))
    assert _outcome(signal, healthy)["status"] == "executed"
    assert Position.objects.filter(signal=signal).get().agent_id == healthy.pk


def test_a_queued_batch_fails_that_agent_and_buys_for_the_others(localnet, user, token):
    broken, healthy = _funded(user, "Broken"), _funded(user, "Healthy")
    signal = _signal(user, token)
    fan_out = signal_fan_out(signal_id=signal.pk)
    assert fan_out.pending == [broken.pk, healthy.pk]
    _corrupt(broken)  # after the fan-out decided, before the batch runs

    decided = signal_execute_batch(signal_id=signal.pk, agent_ids=fan_out.pending)

    assert sorted(execution.agent_id for execution in decided) == [broken.pk, healthy.pk]
    _assert_failed_on_its_config(_outcome(signal, broken))
    assert _outcome(signal, healthy)["status"] == "executed"


def test_the_tick_sells_the_other_agents_positions(
    localnet, market, user, token, django_capture_on_commit_callbacks
):
    holders = [_funded(user, "Broken"), _funded(user, "Healthy")]
    positions = [
        position_buy(
            agent=agent,
            wallet=agent.wallets.get(mode="simulation"),
            token_address=token,
            sol_amount=Decimal("1"),
            stop_loss_percent=Decimal("-32"),
        ).position
        for agent in holders
    ]
    _corrupt(holders[0])
    lowest_entry = min(position.purchase_price for position in positions)
    market.set_price(token, lowest_entry * Decimal("0.5"))  # through both stops

    with django_capture_on_commit_callbacks(execute=True):
        price_poll()

    broken, healthy = (Position.objects.get(pk=position.pk) for position in positions)
    assert broken.status == "open"  # left alone until its config can be read again
    assert (healthy.status, healthy.close_reason) == ("closed", "stop_loss")
