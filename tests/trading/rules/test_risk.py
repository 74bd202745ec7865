"""The risk guards as pure rules (agents/risk.py), at fixed moments."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from agents.config import effective_config
from trading.rules import risk

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
D = Decimal


def _risk(**section):
    return effective_config({"risk": section}).risk


def _cooldown(count=3, window=60, pause=30):
    return _risk(
        cooldown_after_stop_losses={
            "count": count,
            "window_minutes": window,
            "pause_minutes": pause,
        }
    ).cooldown_after_stop_losses


def test_daily_loss_at_the_limit_pauses_until_the_next_utc_midnight():
    state, trip = risk.daily_loss_check(D("1"), D("-1"), NOON)
    assert trip is not None and trip.reason == "daily_loss_limit"
    assert trip.until == datetime(2026, 3, 11, tzinfo=UTC)
    assert trip.details["loss_today_sol"] == "1"
    assert state["tripped"] is True


def test_daily_loss_below_the_limit_or_a_net_gain_does_not_pause():
    assert risk.daily_loss_check(D("1"), D("-0.999"), NOON)[1] is None
    assert risk.daily_loss_check(D("1"), D("5"), NOON)[1] is None


def test_the_utc_day_starts_at_midnight_whatever_the_zone_of_now():
    late = datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC)
    assert risk.next_utc_day(late) == datetime(2026, 3, 11, tzinfo=UTC)
    assert risk.utc_day_start(late + timedelta(seconds=1)) == datetime(2026, 3, 11, tzinfo=UTC)


def test_equity_values_positions_at_their_price_or_at_cost():
    priced = risk.Holding("A", remaining=D("100"), tokens_bought=D("200"), invested_sol=D("4"))
    unpriced = risk.Holding("B", remaining=D("50"), tokens_bought=D("100"), invested_sol=D("2"))
    facts = risk.LedgerFacts(
        sol_balance=D("3"), holdings=(priced, unpriced), prices={"A": D("0.01")}
    )
    # 3 SOL + 100 A at 0.01 + half of B's 2 SOL cost
    assert risk.equity_sol(facts) == D("5")


def test_drawdown_from_the_peak_at_the_limit_pauses_with_no_fixed_end():
    facts = risk.LedgerFacts(sol_balance=D("8"), net_transfers_sol=D("10"), stored_peak_sol=D("0"))
    state, trip, peak = risk.drawdown_check(D("20"), facts, NOON)
    assert (trip.reason, trip.until) == ("max_drawdown", None)
    assert D(state["drawdown_percent"]) == D("20")
    assert peak == D("0")  # the stored peak stands: equity is below it


def test_a_new_high_raises_the_peak_and_is_no_drawdown():
    facts = risk.LedgerFacts(sol_balance=D("12"), net_transfers_sol=D("10"), stored_peak_sol=D("1"))
    state, trip, peak = risk.drawdown_check(D("20"), facts, NOON)
    assert trip is None and peak == D("2") and D(state["drawdown_percent"]) == 0


def test_withdrawing_money_is_not_a_drawdown_and_depositing_is_not_a_peak():
    # Peak reached with 10 deposited and 10 held; then 5 withdrawn: 5 held, nothing lost.
    withdrawn = risk.LedgerFacts(
        sol_balance=D("5"), net_transfers_sol=D("5"), stored_peak_sol=D("0")
    )
    assert risk.drawdown_check(D("1"), withdrawn, NOON)[1] is None
    # 10 deposited, 2 lost (8 held), then 10 more deposited: still a 2 SOL drawdown from 10,
    # now measured against a peak of 20.
    topped_up = risk.LedgerFacts(
        sol_balance=D("18"), net_transfers_sol=D("20"), stored_peak_sol=D("0")
    )
    state, trip, _ = risk.drawdown_check(D("10"), topped_up, NOON)
    assert D(state["drawdown_percent"]) == D("10") and trip is not None


def test_n_stop_losses_within_the_window_pause_for_pause_minutes_after_the_last():
    closes = (
        NOON - timedelta(minutes=50),
        NOON - timedelta(minutes=20),
        NOON - timedelta(minutes=5),
    )
    state, trip = risk.cooldown_check(_cooldown(), closes, NOON)
    assert trip.reason == "stop_loss_cooldown"
    assert trip.until == NOON + timedelta(minutes=25)
    assert len(state["recent_stop_losses"]) == 3


def test_stop_losses_spread_wider_than_the_window_do_not_pause():
    closes = (
        NOON - timedelta(minutes=70),
        NOON - timedelta(minutes=20),
        NOON - timedelta(minutes=5),
    )
    assert risk.cooldown_check(_cooldown(), closes, NOON)[1] is None


def test_fewer_stop_losses_than_count_do_not_pause():
    closes = (NOON - timedelta(minutes=2), NOON - timedelta(minutes=1))
    assert risk.cooldown_check(_cooldown(), closes, NOON)[1] is None


def test_the_cooldown_is_over_pause_minutes_after_the_last_stop_loss():
    closes = (
        NOON - timedelta(minutes=40),
        NOON - timedelta(minutes=35),
        NOON - timedelta(minutes=30),
    )
    assert risk.cooldown_check(_cooldown(), closes, NOON - timedelta(seconds=1))[1] is not None
    assert risk.cooldown_check(_cooldown(), closes, NOON)[1] is None


def test_only_the_configured_guards_are_evaluated():
    report = risk.guards_evaluate(_risk(), risk.LedgerFacts(realised_today_sol=D("-100")), NOON)
    assert report.trips == () and report.configured == frozenset() and report.peak_sol is None
    report = risk.guards_evaluate(
        _risk(daily_loss_limit_sol="1"), risk.LedgerFacts(realised_today_sol=D("-100")), NOON
    )
    assert [trip.reason for trip in report.trips] == ["daily_loss_limit"]
