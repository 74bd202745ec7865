"""Risk guards end to end (trading-rules.md section 8): each pauses new buys with a recorded
reason, resumes as specified, and leaves the agent's open positions managed."""

from datetime import timedelta
from decimal import Decimal

import pytest

from signals_app.models import SignalExecution
from signals_app.services import signal_create, signal_execute_batch, signal_fan_out
from tests.trading.risk_support import guarded_agent, losing_close, open_position, signal_for
from trading import tasks
from trading.models import ClosedTrade, EquityPeak, Position, RiskPause, Transaction
from trading.risk_services import buy_guards_check
from trading.rules import risk
from trading.services import position_close, position_take_profit
from trading.tasks import price_poll

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def loser(market):
    """The token the agents lose money on."""
    return market.add_token(symbol="RUG", price_sol=D("0.001"), decimals=6, liquidity_sol=D("5000"))


@pytest.fixture
def target(market):
    """The token the signals are about."""
    return market.add_token(symbol="WIF", price_sol=D("0.002"), decimals=6, liquidity_sol=D("5000"))


def _days_back(agent, days=1):
    """Time travel: the agent's trades and pauses happened `days` earlier."""
    shift = timedelta(days=days)
    for trade in ClosedTrade.objects.filter(agent=agent):
        ClosedTrade.objects.filter(pk=trade.pk).update(closed_at=trade.closed_at - shift)
    for entry in Transaction.objects.filter(agent=agent):
        Transaction.objects.filter(pk=entry.pk).update(created_at=entry.created_at - shift)
    for pause in RiskPause.objects.filter(agent=agent):
        RiskPause.objects.filter(pk=pause.pk).update(
            started_at=pause.started_at - shift, until=pause.until and pause.until - shift
        )


# --- Daily realised loss ---------------------------------------------------------------------


def test_daily_loss_at_the_limit_pauses_buys_until_the_next_utc_day(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4"})
    trade = losing_close(market, agent, wallet, loser)  # about -0.5 SOL

    execution = signal_for(user, agent, target, django_capture_on_commit_callbacks)

    assert (execution.status, execution.reason) == ("skipped", "risk_paused")
    pause = RiskPause.objects.get(agent=agent)
    assert pause.reason == "daily_loss_limit"
    assert pause.until == risk.next_utc_day(pause.started_at)
    assert D(pause.details["loss_today_sol"]) == -trade.profit_loss_sol
    assert execution.details["reason"] == "daily_loss_limit"
    assert execution.details["pause_id"] == pause.pk
    assert not Position.objects.filter(agent=agent, token_address=target).exists()


def test_a_loss_under_the_limit_does_not_pause(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.6"})
    losing_close(market, agent, wallet, loser)
    execution = signal_for(user, agent, target, django_capture_on_commit_callbacks)
    assert execution.status == "executed"
    assert not RiskPause.objects.exists()


def test_the_daily_pause_ends_at_midnight_and_yesterdays_loss_no_longer_counts(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4"})
    losing_close(market, agent, wallet, loser)
    assert signal_for(user, agent, target, django_capture_on_commit_callbacks).reason == (
        "risk_paused"
    )

    _days_back(agent)
    execution = signal_for(user, agent, target, django_capture_on_commit_callbacks)

    assert execution.status == "executed", execution.details
    pause = RiskPause.objects.get(agent=agent)
    assert (pause.end_note, pause.ended_at) == ("expired", pause.until)


def test_the_realised_loss_counts_each_sale_once(localnet, market, user, loser, api_client):
    """A take-profit sale yesterday and the close today: only today's part counts."""
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "100"})
    position = open_position(agent, wallet, loser, sol="2")
    market.set_price(loser, D("0.002"))
    sale = position_take_profit(
        position_id=position.pk,
        token_amount=position.remaining_amount / 2,
        expected_levels_hit=0,
        new_levels_hit=1,
    )
    assert sale.profit_loss_sol > 0
    _days_back(agent)
    market.set_price(loser, D("0.0005"))
    trade = position_close(position_id=position.pk, reason="stop_loss")

    api_client.force_authenticate(user)
    guard = api_client.get(f"/api/v1/agents/{agent.pk}/risk").json()["guards"]["daily_loss_limit"]

    assert D(guard["realised_today_sol"]) == trade.profit_loss_sol - sale.profit_loss_sol
    assert D(guard["realised_today_sol"]) < 0


def test_an_operator_ended_daily_pause_stays_ended_that_day(
    localnet, market, user, loser, target, api_client, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4"})
    losing_close(market, agent, wallet, loser)
    signal_for(user, agent, target, django_capture_on_commit_callbacks)
    pause = RiskPause.objects.get(agent=agent)

    api_client.force_authenticate(user)
    response = api_client.post(
        f"/api/v1/agents/{agent.pk}/risk/pauses/{pause.pk}/end", {"note": "reviewed"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["end_note"] == "ended by operator@example.com: reviewed"

    execution = signal_for(user, agent, target, django_capture_on_commit_callbacks)
    assert execution.status == "executed"
    assert RiskPause.objects.filter(agent=agent).count() == 1


def test_switching_the_guard_off_ends_its_pause(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4"})
    losing_close(market, agent, wallet, loser)
    signal_for(user, agent, target, django_capture_on_commit_callbacks)
    agent.config = {"risk": {}}
    agent.save(update_fields=["config"])

    execution = signal_for(user, agent, target, django_capture_on_commit_callbacks)

    assert execution.status == "executed"
    assert RiskPause.objects.get(agent=agent).end_note == "guard switched off"


# --- Max drawdown ----------------------------------------------------------------------------


def _drawdown_agent(user, market, loser):
    """10 SOL in, 5 SOL of `loser` bought, peak recorded, then the token falls 30%: a drawdown
    of about 15% of the equity."""
    agent, wallet = guarded_agent(user, {"max_drawdown_percent": "10"})
    open_position(agent, wallet, loser, sol="5")
    assert buy_guards_check(agent=agent, opens_position=False) is None  # records the peak
    market.set_price(loser, D("0.0007"))
    price_poll()  # the latest price the equity reads
    return agent, wallet


def test_a_drawdown_beyond_the_limit_pauses_until_it_recovers(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, _ = _drawdown_agent(user, market, loser)

    paused = signal_for(user, agent, target, django_capture_on_commit_callbacks)
    assert (paused.status, paused.reason) == ("skipped", "risk_paused")
    pause = RiskPause.objects.get(agent=agent)
    assert (pause.reason, pause.until) == ("max_drawdown", None)
    assert D(pause.details["drawdown_percent"]) > 10

    market.set_price(loser, D("0.001"))
    price_poll()
    resumed = signal_for(user, agent, target, django_capture_on_commit_callbacks)

    assert resumed.status == "executed"
    pause.refresh_from_db()
    assert pause.end_note == "recovered" and pause.ended_at is not None


def test_ending_a_drawdown_pause_restarts_the_peak_from_todays_equity(
    localnet, market, user, loser, target, api_client, django_capture_on_commit_callbacks
):
    agent, wallet = _drawdown_agent(user, market, loser)
    signal_for(user, agent, target, django_capture_on_commit_callbacks)
    pause = RiskPause.objects.get(agent=agent)
    peak_before = EquityPeak.objects.get(wallet=wallet).peak_sol

    api_client.force_authenticate(user)
    api_client.post(f"/api/v1/agents/{agent.pk}/risk/pauses/{pause.pk}/end")

    assert EquityPeak.objects.get(wallet=wallet).peak_sol < peak_before
    execution = signal_for(user, agent, target, django_capture_on_commit_callbacks)
    assert execution.status == "executed", execution.details


def test_a_withdrawal_is_not_a_drawdown(
    localnet, market, user, target, django_capture_on_commit_callbacks
):
    from trading.ledger_services import balance_withdraw

    agent, wallet = guarded_agent(user, {"max_drawdown_percent": "10"})
    assert buy_guards_check(agent=agent, opens_position=False) is None
    balance_withdraw(wallet=wallet, amount=D("5"))
    execution = signal_for(user, agent, target, django_capture_on_commit_callbacks)
    assert execution.status == "executed", execution.details


# --- Cooldown after stop losses ---------------------------------------------------------------

COOLDOWN = {"cooldown_after_stop_losses": {"count": 2, "window_minutes": 60, "pause_minutes": 30}}


def test_a_stop_loss_streak_pauses_buys_for_pause_minutes_after_the_last(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, COOLDOWN)
    losing_close(market, agent, wallet, loser)
    last = losing_close(market, agent, wallet, loser)

    execution = signal_for(user, agent, target, django_capture_on_commit_callbacks)

    assert (execution.status, execution.reason) == ("skipped", "risk_paused")
    pause = RiskPause.objects.get(agent=agent)
    assert pause.reason == "stop_loss_cooldown"
    assert pause.until == last.closed_at + timedelta(minutes=30)


def test_the_cooldown_ends_after_pause_minutes(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, COOLDOWN)
    losing_close(market, agent, wallet, loser)
    losing_close(market, agent, wallet, loser)
    signal_for(user, agent, target, django_capture_on_commit_callbacks)

    # 31 minutes later: the trades and the pause all moved back in time.
    shift = timedelta(minutes=31)
    for trade in ClosedTrade.objects.filter(agent=agent):
        ClosedTrade.objects.filter(pk=trade.pk).update(closed_at=trade.closed_at - shift)
    pause = RiskPause.objects.get(agent=agent)
    RiskPause.objects.filter(pk=pause.pk).update(
        started_at=pause.started_at - shift, until=pause.until - shift
    )

    assert signal_for(user, agent, target, django_capture_on_commit_callbacks).status == (
        "executed"
    )


def test_closes_that_are_not_stop_losses_do_not_count(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, COOLDOWN)
    losing_close(market, agent, wallet, loser, reason="manual")
    losing_close(market, agent, wallet, loser)
    assert signal_for(user, agent, target, django_capture_on_commit_callbacks).status == (
        "executed"
    )


# --- Paused agents still manage their positions; the guards run again before a buy ----------


def test_a_paused_agent_still_sells_at_its_stop(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4"})
    losing_close(market, agent, wallet, loser)
    position = open_position(agent, wallet, target)
    signal_for(user, agent, loser, django_capture_on_commit_callbacks)
    assert RiskPause.objects.filter(agent=agent, ended_at__isnull=True).exists()

    market.set_price(target, D("0.001"))  # -50%: through the -32% stop
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()

    position.refresh_from_db()
    assert (position.status, position.close_reason) == ("closed", "stop_loss")


def test_a_paused_agent_does_not_average_down(localnet, market, user, loser, target):
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4"})
    position = open_position(agent, wallet, target)
    tasks.position_dca_buy(position.pk, "0.5", 0, 0)
    assert Position.objects.get(pk=position.pk).dca_count == 1

    losing_close(market, agent, wallet, loser)
    tasks.position_dca_buy(position.pk, "0.5", 1, 0)

    assert Position.objects.get(pk=position.pk).dca_count == 1
    assert RiskPause.objects.get(agent=agent).reason == "daily_loss_limit"


def test_a_guard_that_trips_after_the_fan_out_stops_a_batch_that_starts_later(
    localnet, market, user, loser, target, django_capture_on_commit_callbacks
):
    """A batch checks the guards again when it starts: a guard tripped since the fan-out
    decided stops its buys."""
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4"})
    signal, _ = signal_create(
        owner=user, token_address=target, signal_type="BUY", signal_strength=3
    )
    assert signal_fan_out(signal_id=signal.pk).pending == [agent.pk]
    losing_close(market, agent, wallet, loser)
    signal_execute_batch(signal_id=signal.pk, agent_ids=[agent.pk])

    execution = SignalExecution.objects.get(signal=signal, agent=agent)
    assert (execution.status, execution.reason) == ("skipped", "risk_paused")
    assert execution.details["reason"] == "daily_loss_limit"
    assert not Position.objects.filter(agent=agent, token_address=target).exists()
