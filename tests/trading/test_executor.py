"""The executor against localnet quotes: exact ledger effects, refusals that write nothing,
and sales that happen at most once."""

from decimal import Decimal

import pytest
import requests

from nexgent import money
from nexgent.api import DomainError
from trading.ledger_services import balance_deposit, balance_withdraw
from trading.models import Balance, ClosedTrade, Position, Transaction, TransactionType
from trading.services import TradeRefused, position_buy, position_close, position_write_off

pytestmark = pytest.mark.django_db
STOP = Decimal("-32")
LAMPORTS = Decimal(10) ** 9


def _quote(localnet, input_mint, output_mint, amount):
    """The market's own answer for a swap, read over HTTP like any client would."""
    response = requests.get(
        f"{localnet.url}/swap/v1/quote",
        params={
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": amount,
            "slippageBps": 100,
        },
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()


def _expected_fees(settings, sol_lamports: int) -> tuple[Decimal, Decimal]:
    protocol = Decimal(sol_lamports) * settings.SIM_PROTOCOL_FEE_BPS / 10_000 / LAMPORTS
    network = (
        Decimal(
            settings.SIM_SIGNATURE_FEE_LAMPORTS
            + settings.SIM_PRIORITY_FEE_LAMPORTS
            + settings.SIM_RENT_FEE_LAMPORTS
        )
        / LAMPORTS
    )
    return protocol, network


def _balance(wallet, mint) -> Decimal:
    row = Balance.objects.filter(wallet=wallet, token_address=mint).first()
    return row.amount if row else Decimal(0)


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="BONK", price_sol=Decimal("0.0001"), decimals=6, liquidity_sol=Decimal("1000")
    )


def test_buy_debits_swap_plus_both_fees_and_opens_position(
    localnet, settings, agent, funded_wallet, token
):
    quote = _quote(localnet, money.WSOL_MINT, token, 1_000_000_000)
    protocol, network = _expected_fees(settings, int(quote["inAmount"]))
    swapped = Decimal(quote["inAmount"]) / LAMPORTS
    tokens = Decimal(quote["outAmount"]) / Decimal(10) ** 6

    result = position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=STOP,
    )

    debit = swapped + protocol + network
    assert _balance(funded_wallet, money.WSOL_MINT) == Decimal(10) - debit
    assert _balance(funded_wallet, token) == tokens
    position = Position.objects.get(pk=result.position.pk)
    assert position.total_invested_sol == debit
    assert position.remaining_amount == tokens == position.total_tokens_bought
    assert position.purchase_price == money.price(swapped / tokens)  # fees excluded
    assert position.peak_price == position.purchase_price
    assert position.stop_loss_percent == STOP
    entry = result.transaction
    assert (entry.type, entry.input_amount, entry.output_amount) == (
        TransactionType.SWAP,
        debit,
        tokens,
    )
    assert (entry.protocol_fee_sol, entry.network_fee_sol) == (protocol, network)


def test_buy_refused_for_insufficient_balance_writes_nothing(localnet, agent, wallet, token):
    balance_deposit(wallet=wallet, amount=Decimal("0.5"))
    before = (Transaction.objects.count(), Position.objects.count())
    with pytest.raises(TradeRefused) as refusal:
        position_buy(
            agent=agent,
            wallet=wallet,
            token_address=token,
            sol_amount=Decimal("0.5"),
            stop_loss_percent=STOP,
        )
    assert refusal.value.code == "insufficient_balance"
    assert (Transaction.objects.count(), Position.objects.count()) == before
    assert _balance(wallet, money.WSOL_MINT) == Decimal("0.5")
    assert _balance(wallet, token) == 0


def test_second_open_position_in_same_token_refused(localnet, agent, funded_wallet, token):
    position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=STOP,
    )
    sol_after_first = _balance(funded_wallet, money.WSOL_MINT)
    with pytest.raises(TradeRefused) as refusal:
        position_buy(
            agent=agent,
            wallet=funded_wallet,
            token_address=token,
            sol_amount=Decimal("1"),
            stop_loss_percent=STOP,
        )
    assert refusal.value.code == "position_exists"
    assert _balance(funded_wallet, money.WSOL_MINT) == sol_after_first
    assert Position.objects.filter(status="open").count() == 1


def test_close_credits_net_proceeds_and_records_closed_trade(
    localnet, market, settings, agent, funded_wallet, token
):
    bought = position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=STOP,
    ).position
    market.set_price(token, Decimal("0.00015"))
    raw_tokens = int(bought.remaining_amount * Decimal(10) ** 6)
    quote = _quote(localnet, token, money.WSOL_MINT, raw_tokens)
    protocol, network = _expected_fees(settings, int(quote["outAmount"]))
    net = Decimal(quote["outAmount"]) / LAMPORTS - protocol - network
    sol_before = _balance(funded_wallet, money.WSOL_MINT)

    trade = position_close(position_id=bought.pk, reason="manual")

    assert _balance(funded_wallet, money.WSOL_MINT) == sol_before + net
    assert _balance(funded_wallet, token) == 0
    assert trade.received_sol == net
    assert trade.invested_sol == bought.total_invested_sol
    assert trade.profit_loss_sol == net - bought.total_invested_sol
    assert trade.profit_loss_sol > 0
    assert trade.close_reason == "manual"
    cost_basis = bought.purchase_price * bought.total_tokens_bought
    assert trade.change_percent == money.percent(trade.profit_loss_sol / cost_basis * 100)
    assert trade.profit_loss_usd == money.amount(trade.profit_loss_sol * Decimal("150"))
    position = Position.objects.get(pk=bought.pk)
    assert (position.status, position.remaining_amount, position.close_reason) == (
        "closed",
        0,
        "manual",
    )


def test_position_is_sold_at_most_once(localnet, agent, funded_wallet, token):
    bought = position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=STOP,
    ).position
    first = position_close(position_id=bought.pk, reason="stop_loss")
    sol_after = _balance(funded_wallet, money.WSOL_MINT)
    second = position_close(position_id=bought.pk, reason="stop_loss")
    assert first is not None and second is None
    assert _balance(funded_wallet, money.WSOL_MINT) == sol_after
    assert ClosedTrade.objects.count() == 1
    assert Transaction.objects.filter(position=bought, input_mint=token).count() == 1


def test_close_decided_on_an_older_amount_writes_nothing(localnet, agent, funded_wallet, token):
    bought = position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=STOP,
    ).position
    result = position_close(
        position_id=bought.pk, reason="stop_loss", expected_remaining=bought.remaining_amount + 1
    )
    assert result is None
    assert Position.objects.get(pk=bought.pk).status == "open"


def test_write_off_burns_remaining_as_rug_pull(localnet, agent, funded_wallet, token):
    bought = position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=STOP,
    ).position
    trade = position_write_off(position_id=bought.pk)
    assert trade.close_reason == "rug_pull"
    assert trade.received_sol == 0
    assert trade.profit_loss_sol == -bought.total_invested_sol
    assert trade.change_percent < 0
    assert _balance(funded_wallet, token) == 0
    burn = Transaction.objects.get(position=bought, type=TransactionType.BURN)
    assert burn.input_amount == bought.remaining_amount


def test_withdrawal_never_takes_balance_below_zero(wallet):
    balance_deposit(wallet=wallet, amount=Decimal("1.000000000000000001"))
    with pytest.raises(DomainError):
        balance_withdraw(wallet=wallet, amount=Decimal("1.000000000000000002"))
    assert _balance(wallet, money.WSOL_MINT) == Decimal("1.000000000000000001")
    balance_withdraw(wallet=wallet, amount=Decimal("1.000000000000000001"))
    assert _balance(wallet, money.WSOL_MINT) == 0
