"""Take-profit ladders and DCA buys driven by the price tick through localnet."""

from decimal import ROUND_CEILING, Decimal

import pytest

from agents.services import agent_create
from trading.ledger_services import balance_deposit
from trading.models import Balance, ClosedTrade, Position, Transaction
from trading.services import position_buy, position_dca_buy, position_take_profit
from trading.tasks import price_poll

pytestmark = pytest.mark.django_db
TP_CONFIG = {
    "take_profit": {"enabled": True, "mode": "moderate"},
    "stale_trade": {"enabled": False},
}
DCA_CONFIG = {
    "dca": {"enabled": True, "mode": "moderate", "cooldown_seconds": 10},
    "stale_trade": {"enabled": False},
}


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="LADDER", price_sol=Decimal("0.01"), decimals=6, liquidity_sol=Decimal("50000")
    )


def _open(user, config, token, name="Ladder"):
    agent = agent_create(owner=user, name=name, config=config)
    wallet = agent.wallets.get()
    balance_deposit(wallet=wallet, amount=Decimal("20"))
    return position_buy(
        agent=agent,
        wallet=wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal("-32"),
    ).position


def _whole_units(tokens: Decimal, decimals: int = 6) -> Decimal:
    """A swap moves whole raw units: a take-profit sale rounds up to the next one."""
    return tokens.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_CEILING)


def _tick(capture):
    with capture(execute=True):
        price_poll()


def test_take_profit_sells_a_quarter_of_the_original_per_level(
    localnet, market, user, token, django_capture_on_commit_callbacks
):
    position = _open(user, TP_CONFIG, token)
    original = position.total_tokens_bought
    market.set_price(token, position.purchase_price * Decimal("1.6"))  # past +50%, below +150%
    _tick(django_capture_on_commit_callbacks)

    position.refresh_from_db()
    assert position.take_profit_levels_hit == 1
    sold = _whole_units(original * Decimal("0.25"))
    assert position.remaining_amount == original - sold
    sale = Transaction.objects.get(position=position, is_take_profit=True)
    assert sale.input_amount == sold
    assert abs(sale.cost_basis_sol - sold / original * position.total_invested_sol) < Decimal(
        "1e-17"
    )
    assert sale.profit_loss_sol == sale.output_amount - sale.cost_basis_sol
    assert position.realized_sol == sale.output_amount

    _tick(django_capture_on_commit_callbacks)  # same price: the level is not sold again
    assert Transaction.objects.filter(position=position, is_take_profit=True).count() == 1


def test_a_jump_past_several_levels_sells_them_at_once_and_keeps_the_moon_bag(
    localnet, market, user, token, django_capture_on_commit_callbacks
):
    position = _open(user, TP_CONFIG, token)
    original = position.total_tokens_bought
    market.set_price(
        token, position.purchase_price * Decimal("4.2")
    )  # past +300%: three levels and the moon bag trigger
    _tick(django_capture_on_commit_callbacks)
    position.refresh_from_db()
    assert position.take_profit_levels_hit == 3
    assert position.moon_bag_activated
    assert position.moon_bag_amount == original * Decimal("0.10")
    assert position.remaining_amount == original - _whole_units(original * Decimal("0.75"))

    market.set_price(
        token, position.purchase_price * Decimal("5.5")
    )  # the last level: capped at the moon bag
    _tick(django_capture_on_commit_callbacks)
    position.refresh_from_db()
    assert position.take_profit_levels_hit == 4
    assert position.remaining_amount == position.moon_bag_amount == original * Decimal("0.10")
    assert position.status == "open"

    market.set_price(
        token, position.purchase_price * Decimal("0.5")
    )  # stop loss sells the moon bag too
    _tick(django_capture_on_commit_callbacks)
    trade = ClosedTrade.objects.get(position=position)
    assert trade.close_reason == "stop_loss"
    sales = Transaction.objects.filter(position=position, input_mint=token)
    assert trade.received_sol == sum(s.output_amount for s in sales)
    assert Balance.objects.get(wallet=position.wallet, token_address=token).amount == 0


def test_dca_buys_at_the_drop_and_lowers_the_average(
    localnet, market, user, token, django_capture_on_commit_callbacks
):
    position = _open(user, DCA_CONFIG, token)
    before = Position.objects.get(pk=position.pk)
    market.set_price(
        token, position.purchase_price * Decimal("0.78")
    )  # -22%: moderate level 1 is -20%
    _tick(django_capture_on_commit_callbacks)

    after = Position.objects.get(pk=position.pk)
    buy = Transaction.objects.get(position=position, is_dca=True)
    assert after.dca_count == 1 and after.last_dca_at is not None
    assert after.total_invested_sol == before.total_invested_sol + buy.input_amount
    assert after.total_tokens_bought == before.total_tokens_bought + buy.output_amount
    assert after.remaining_amount == before.remaining_amount + buy.output_amount
    assert after.purchase_price < before.purchase_price
    assert (after.peak_price, after.stop_loss_percent) == (
        before.peak_price,
        before.stop_loss_percent,
    )
    # buy_amount = price x remaining x 75%; the quote's SOL side is that amount in lamports.
    expected_swap = after.lowest_price * before.remaining_amount * Decimal("0.75")
    swapped = buy.input_amount - buy.protocol_fee_sol - buy.network_fee_sol
    assert abs(swapped - expected_swap) / expected_swap < Decimal("0.001")

    _tick(django_capture_on_commit_callbacks)  # within the cooldown: no second buy
    assert Transaction.objects.filter(position=position, is_dca=True).count() == 1


def test_dca_never_spends_sol_the_wallet_lacks(localnet, market, user, token):
    position = _open(user, DCA_CONFIG, token)
    wallet = position.wallet
    sol = Balance.objects.get(
        wallet=wallet, token_address="So11111111111111111111111111111111111111112"
    )
    from trading.ledger_services import balance_withdraw

    balance_withdraw(wallet=wallet, amount=sol.amount - Decimal("0.1"))
    entry = position_dca_buy(
        position_id=position.pk, sol_amount=Decimal("5"), expected_dca_count=0, take_profit_levels=4
    )
    sol.refresh_from_db()
    assert entry is not None
    assert Decimal(0) <= sol.amount < Decimal("0.000001")
    assert entry.input_amount <= Decimal("0.1")


def test_a_replayed_take_profit_or_dca_writes_nothing(localnet, market, user, token):
    position = _open(user, {**TP_CONFIG, **DCA_CONFIG}, token)
    amount = position.total_tokens_bought * Decimal("0.25")
    first = position_take_profit(
        position_id=position.pk, token_amount=amount, expected_levels_hit=0, new_levels_hit=1
    )
    again = position_take_profit(
        position_id=position.pk, token_amount=amount, expected_levels_hit=0, new_levels_hit=1
    )
    assert first is not None and again is None
    dca = position_dca_buy(
        position_id=position.pk,
        sol_amount=Decimal("0.1"),
        expected_dca_count=0,
        take_profit_levels=4,
    )
    dca_again = position_dca_buy(
        position_id=position.pk,
        sol_amount=Decimal("0.1"),
        expected_dca_count=0,
        take_profit_levels=4,
    )
    assert dca is not None and dca_again is None
    position.refresh_from_db()
    assert (
        position.take_profit_levels_hit,
        position.dca_count,
        position.take_profit_batch_start,
    ) == (1, 1, 1)
