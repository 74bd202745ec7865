"""Rug write-off from the tick: the feed drops the token and its SOL liquidity is gone."""

from decimal import Decimal

import pytest

from trading.models import Balance, ClosedTrade, Position, Transaction
from trading.services import position_buy
from trading.tasks import price_poll

pytestmark = pytest.mark.django_db


@pytest.fixture
def position(localnet, market, agent, funded_wallet):
    token = market.add_token(
        symbol="RUG", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("800")
    )
    return position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal("-32"),
    ).position


def test_rugged_token_is_written_off_as_a_full_loss(
    position, market, django_capture_on_commit_callbacks
):
    market.rug(position.token_address)
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    trade = ClosedTrade.objects.get(position=position)
    assert trade.close_reason == "rug_pull"
    assert trade.profit_loss_sol == -position.total_invested_sol
    burn = Transaction.objects.get(position=position, type="BURN")
    assert burn.input_amount == position.remaining_amount
    assert (
        Balance.objects.get(wallet=position.wallet, token_address=position.token_address).amount
        == 0
    )


def test_a_failed_liquidity_fetch_is_not_a_rug(
    position, market, django_capture_on_commit_callbacks
):
    market.rug(position.token_address)
    market.inject_fault("dexscreener", status=500, count=50)
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    assert Position.objects.get(pk=position.pk).status == "open"


def test_a_liquid_token_missing_from_the_feed_is_kept(
    position, market, settings, django_capture_on_commit_callbacks
):
    settings.RUG_LIQUIDITY_SOL_THRESHOLD = Decimal("0.1")  # the rugged pool keeps 0.5 SOL
    market.rug(position.token_address)
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()
    assert Position.objects.get(pk=position.pk).status == "open"
