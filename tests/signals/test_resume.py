"""Work a committed signal waits for is picked up again after a crash, exactly once: a signal
whose fan-out never ran (the process died between the commit and the dispatch, or the message
was lost), and buys left pending (a worker killed in the middle of a batch). The resume sweep
dispatches both again; running it again, or beside the original work, buys nothing twice."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.services import agent_create
from signals_app.models import SignalExecution, TradingSignal
from signals_app.services import signal_create, signal_fan_out
from signals_app.tasks import signals_resume
from trading.ledger_services import balance_deposit
from trading.models import Position, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="MEW", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("5000")
    )


@pytest.fixture
def agents(user):
    made = []
    for n in range(3):
        agent = agent_create(owner=user, name=f"Agent {n}")
        balance_deposit(wallet=agent.wallets.get(mode="simulation"), amount=Decimal("10"))
        made.append(agent)
    return made


def _signal(user, token, *, seconds_ago: int) -> TradingSignal:
    signal, _ = signal_create(owner=user, token_address=token, signal_type="BUY", signal_strength=3)
    TradingSignal.objects.filter(pk=signal.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    return signal


def _bought_once_each(signal, agents) -> bool:
    statuses = set(SignalExecution.objects.filter(signal=signal).values_list("agent_id", "status"))
    keys = sorted(
        Transaction.objects.filter(signal=signal).values_list("idempotency_key", flat=True)
    )
    return statuses == {(agent.pk, "executed") for agent in agents} and keys == sorted(
        f"buy:{signal.pk}:{agent.pk}" for agent in agents
    )


def test_a_signal_never_fanned_out_is_fanned_out_once(localnet, user, token, agents):
    signal = _signal(user, token, seconds_ago=20)  # committed; its fan-out was lost

    signals_resume()
    signals_resume()  # again: nothing is left to do

    assert _bought_once_each(signal, agents)
    assert TradingSignal.objects.get(pk=signal.pk).processed_at is not None


def test_buys_left_pending_by_a_dead_worker_are_made_once(localnet, user, token, agents):
    signal = _signal(user, token, seconds_ago=20)
    fan_out = signal_fan_out(signal_id=signal.pk)  # decided; its batch died with the worker
    assert fan_out.pending == [agent.pk for agent in agents]
    SignalExecution.objects.filter(signal=signal).update(
        updated_at=timezone.now() - timedelta(seconds=20)
    )

    signals_resume()
    signals_resume()

    assert _bought_once_each(signal, agents)


def test_work_that_has_not_waited_long_is_left_to_its_own_dispatch(
    localnet, user, token, agents, settings
):
    settings.SIGNAL_RESUME_AFTER_SECONDS = 15
    fresh = _signal(user, token, seconds_ago=1)

    signals_resume()

    assert not SignalExecution.objects.filter(signal=fresh).exists()
    assert TradingSignal.objects.get(pk=fresh.pk).processed_at is None


def test_a_signal_past_the_window_is_left_alone(localnet, user, token, agents, settings):
    settings.SIGNAL_RESUME_WINDOW_SECONDS = 3600
    old = _signal(user, token, seconds_ago=7200)

    signals_resume()

    assert not SignalExecution.objects.filter(signal=old).exists()


def test_a_resumed_signal_too_old_to_buy_on_is_decided_without_buying(
    localnet, user, token, agents, settings
):
    settings.SIGNAL_BUY_MAX_AGE_SECONDS = 60
    signal = _signal(user, token, seconds_ago=120)

    signals_resume()

    statuses = set(SignalExecution.objects.filter(signal=signal).values_list("status", "reason"))
    assert statuses == {("skipped", "signal_expired")}
    assert not Position.objects.filter(signal=signal).exists()
