"""The price tick: prices from localnet through the real clients, rules evaluated, exits executed."""

from decimal import Decimal

import pytest

from prices.tasks import price_poll, tracked_tokens
from trading.models import ClosedTrade, Position
from trading.services import position_buy

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
