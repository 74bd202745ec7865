"""The price tick: prices from localnet through the real clients, rules evaluated, exits executed."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from agents.config import validate_overrides
from agents.services import agent_create
from prices.selectors import LatestPrice
from trading.automation import positions_evaluate, tracked_tokens
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, Position
from trading.services import position_buy
from trading.tasks import EXECUTOR, price_poll

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="POPCAT", price_sol=Decimal("0.01"), decimals=6, liquidity_sol=Decimal("5000")
    )


@pytest.fixture
def position(localnet, agent, funded_wallet, token):
    return position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal("-32"),
    ).position


def test_open_positions_tokens_are_tracked_and_closed_ones_dropped(position, token):
    assert tracked_tokens() == [token]
    Position.objects.filter(pk=position.pk).update(status="closed")
    assert tracked_tokens() == []


def test_a_token_held_by_several_positions_is_tracked_once(position, token, user):
    other = agent_create(owner=user, name="Beta")
    wallet = other.wallets.get(mode="simulation")
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    position_buy(
        agent=other,
        wallet=wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal("-32"),
    )
    assert Position.objects.filter(token_address=token, status="open").count() == 2
    assert tracked_tokens() == [token]


def test_price_drop_to_the_stop_sells_with_reason_stop_loss(
    position, market, token, django_capture_on_commit_callbacks
):
    stop_price = position.purchase_price * Decimal("0.68")
    market.set_price(token, stop_price * Decimal("1.01"))
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    assert Position.objects.get(pk=position.pk).status == "open"

    market.set_price(token, stop_price * Decimal("0.99"))
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    closed = Position.objects.get(pk=position.pk)
    assert (closed.status, closed.close_reason) == ("closed", "stop_loss")
    trade = ClosedTrade.objects.get(position=closed)
    assert trade.profit_loss_sol < 0


def test_trailing_stop_ratchets_up_and_sells_in_profit(
    position, market, token, django_capture_on_commit_callbacks
):
    avg = position.purchase_price
    market.set_price(token, avg * Decimal("1.5"))  # +50%: fixed mode trails to +40%
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    ratcheted = Position.objects.get(pk=position.pk)
    # The price arrives as USD over JSON and is divided by SOL/USD: equal to a few 1e-10 %.
    assert abs(ratcheted.stop_loss_percent - Decimal(40)) < Decimal("0.0001")
    assert ratcheted.peak_price >= avg * Decimal("1.49")

    market.set_price(token, avg * Decimal("1.45"))  # still above the +40% stop
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    unchanged = Position.objects.get(pk=position.pk)
    assert unchanged.stop_loss_percent == ratcheted.stop_loss_percent  # it never loosens
    assert unchanged.status == "open"

    market.set_price(token, avg * Decimal("1.30"))
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    trade = ClosedTrade.objects.get(position=position)
    assert trade.close_reason == "stop_loss"
    assert trade.profit_loss_sol > 0


def test_no_action_when_automation_is_off(
    position, agent, market, token, django_capture_on_commit_callbacks
):
    agent.automated_trading_simulation = False
    agent.save()
    market.set_price(token, position.purchase_price * Decimal("0.1"))
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    assert Position.objects.get(pk=position.pk).status == "open"


def test_unknown_sol_usd_evaluates_nothing(
    position, market, token, localnet, django_capture_on_commit_callbacks
):
    market.set_price(token, position.purchase_price * Decimal("0.1"))
    market.inject_fault("hermes", status=500, count=10)
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    assert Position.objects.get(pk=position.pk).status == "open"


# --- Quiet ranges: a tick inside the range remembered from a quiet tick skips the rules, and
# any change to the position, its agent's rules or the time limit brings them back. -----------


def tick(position, change_percent: str, now: datetime | None = None):
    """positions_evaluate at the position's average price moved by `change_percent`."""
    price = position.purchase_price * (1 + Decimal(change_percent) / 100)
    latest = LatestPrice(position.token_address, price, None, datetime.now(UTC), "jupiter")
    return positions_evaluate({position.token_address: latest}, EXECUTOR, now=now)


@pytest.fixture
def quiet_position(position, django_capture_on_commit_callbacks):
    """The position after a new low at -5%, then remembered as quiet at -3% and -4%."""
    with django_capture_on_commit_callbacks(execute=True):
        assert tick(position, "-5").within_quiet_range == 0  # a new low: written back
        assert tick(position, "-3").within_quiet_range == 0  # quiet: the range is made
        remembered = tick(position, "-4")
    assert (remembered.evaluated, remembered.within_quiet_range, remembered.actions) == (1, 1, [])
    return position


def test_a_stored_stop_moved_by_anything_else_is_seen_on_the_next_tick(
    quiet_position, django_capture_on_commit_callbacks
):
    # -2% stops out at -4% now; the remembered range was made for the -32% stop.
    Position.objects.filter(pk=quiet_position.pk).update(stop_loss_percent=Decimal(-2))
    with django_capture_on_commit_callbacks(execute=True):
        report = tick(quiet_position, "-4")
    assert report.within_quiet_range == 0
    closed = Position.objects.get(pk=quiet_position.pk)
    assert (closed.status, closed.close_reason) == ("closed", "stop_loss")


def test_new_rules_of_the_agent_are_seen_on_the_next_tick(
    quiet_position, agent, django_capture_on_commit_callbacks
):
    # A DCA level at -3%: the -4% the position sits at is now a buy.
    level = {"drop_percent": "-3", "buy_percent": "10"}
    agent.config = validate_overrides(
        {"dca": {"enabled": True, "mode": "custom", "levels": [level], "cooldown_seconds": 10}}
    )
    agent.save(update_fields=["config"])
    with django_capture_on_commit_callbacks(execute=True):
        report = tick(quiet_position, "-4")
    assert report.within_quiet_range == 0
    assert Position.objects.get(pk=quiet_position.pk).dca_count == 1


def test_a_range_inside_the_stale_window_lasts_until_the_hold_is_over(
    position, django_capture_on_commit_callbacks
):
    opened = position.opened_at
    with django_capture_on_commit_callbacks(execute=True):
        tick(position, "6", now=opened + timedelta(minutes=1))  # a new peak: written back
        tick(position, "5", now=opened + timedelta(minutes=2))  # quiet until the hour is up
        assert tick(position, "5.5", now=opened + timedelta(minutes=59)).within_quiet_range == 1
        late = tick(position, "5.5", now=opened + timedelta(minutes=60))
    assert late.within_quiet_range == 0
    assert late.actions == [(position.pk, "stale_sell")]
    assert Position.objects.get(pk=position.pk).close_reason == "stale_trade"
