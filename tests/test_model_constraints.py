"""The data model's guarantees hold in the database itself, on SQLite and on PostgreSQL.

Rows are written straight through the ORM, with no service in front, so what stops a bad row
here is a constraint or a column type, not Python code.
"""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent, ApiKey, TradingMode
from prices.models import PriceSample, Token
from signals_app.models import SignalExecution, TradingSignal
from trading.models import (
    Balance,
    ClosedTrade,
    CloseReason,
    Position,
    PositionStatus,
    Transaction,
    TransactionType,
)
from wallets.models import AgentWallet

pytestmark = pytest.mark.django_db

MINT = "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263"
OTHER_MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
WSOL = "So11111111111111111111111111111111111111112"
# 1e15 whole units with all 18 places: 34 significant digits, more than a float's 15-17.
BIG_AMOUNT = Decimal("999999999999999.123456789012345678")
SMALLEST_AMOUNT = Decimal("0.000000000000000001")
MAX_AMOUNT = Decimal("9999999999999999999999.999999999999999999")  # numeric(40, 18)
PRICES = [
    Decimal("0.000000000000000000000000000001"),
    Decimal("0.000000012345678901234567890123"),
    Decimal("123456789012345.123456789012345678901234567890"),
    Decimal("999999999999999999999999999999.999999999999999999999999999999"),  # numeric(60, 30)
]


def expect_integrity_error(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def exactly(actual, expected: Decimal, places: int) -> bool:
    """The same digits at the column's scale: not merely equal in value, nor close to it."""
    scaled = expected.quantize(Decimal(1).scaleb(-places))
    return isinstance(actual, Decimal) and actual.as_tuple() == scaled.as_tuple()


# These shadow the conftest fixtures of the same names, which go through the services: here
# every row is written straight through the ORM.
@pytest.fixture
def agent(user):
    return Agent.objects.create(owner=user, name="alpha")


@pytest.fixture
def other_agent(user):
    return Agent.objects.create(owner=user, name="beta")


def make_wallet(agent, mode=TradingMode.SIMULATION):
    """The agent's wallet of `mode`: a new agent's simulation wallet is opened with it; a live
    one is created in the keystore and assigned, as the API does."""
    if mode == "live":
        from wallets.services import wallet_assign, wallet_create_live

        existing = AgentWallet.objects.filter(agent=agent, mode=mode).first()
        return existing or wallet_assign(wallet=wallet_create_live(owner=agent.owner), agent=agent)
    wallet, _ = AgentWallet.objects.get_or_create(
        agent=agent, mode=mode, defaults={"owner": agent.owner, "address": f"sim-{agent.pk}-{mode}"}
    )
    return wallet


@pytest.fixture
def wallet(agent):
    return make_wallet(agent)


def make_position(agent, wallet, **fields):
    values = {
        "token_address": MINT,
        "token_symbol": "BONK",
        "token_decimals": 5,
        "purchase_price": Decimal("0.00000002"),
        "total_invested_sol": Decimal("1"),
        "total_tokens_bought": Decimal("50000000"),
        "remaining_amount": Decimal("50000000"),
        "peak_price": Decimal("0.00000002"),
        "lowest_price": Decimal("0.00000002"),
        "stop_loss_percent": Decimal("-32"),
        "opened_at": timezone.now(),
    }
    values.update(fields)
    return Position.objects.create(agent=agent, wallet=wallet, **values)


def make_signal(owner, **fields):
    values = {
        "token_address": MINT,
        "symbol": "BONK",
        "signal_type": "BUY",
        "signal_strength": 3,
        "created_at": timezone.now(),
    }
    values.update(fields)
    return TradingSignal.objects.create(owner=owner, **values)


# --- uniqueness -------------------------------------------------------------------------------


def test_only_one_open_position_per_agent_wallet_and_token(agent, wallet):
    first = make_position(agent, wallet)
    expect_integrity_error(lambda: make_position(agent, wallet))

    Position.objects.filter(pk=first.pk).update(
        status=PositionStatus.CLOSED, closed_at=timezone.now(), remaining_amount=0
    )
    reopened = make_position(agent, wallet)
    expect_integrity_error(lambda: make_position(agent, wallet))

    Position.objects.filter(pk=reopened.pk).update(status=PositionStatus.CLOSED)
    make_position(agent, wallet)
    assert Position.objects.filter(agent=agent, token_address=MINT).count() == 3
    assert Position.objects.filter(status=PositionStatus.OPEN).count() == 1


def test_open_positions_are_unique_per_wallet_and_token_only(agent, wallet, other_agent):
    make_position(agent, wallet)
    make_position(agent, make_wallet(agent, TradingMode.LIVE))
    make_position(other_agent, make_wallet(other_agent))
    make_position(agent, wallet, token_address=OTHER_MINT)
    assert Position.objects.filter(status=PositionStatus.OPEN).count() == 4


def test_reopening_a_closed_position_is_refused_while_another_is_open(agent, wallet):
    closed = make_position(agent, wallet, status=PositionStatus.CLOSED)
    make_position(agent, wallet)
    closed.status = PositionStatus.OPEN
    expect_integrity_error(closed.save)


def test_one_execution_per_signal_and_agent(user, agent, other_agent):
    signal = make_signal(user)
    SignalExecution.objects.create(signal=signal, agent=agent)
    expect_integrity_error(lambda: SignalExecution.objects.create(signal=signal, agent=agent))

    SignalExecution.objects.create(signal=signal, agent=other_agent)
    SignalExecution.objects.create(signal=make_signal(user), agent=agent)
    assert SignalExecution.objects.count() == 3


def test_a_new_agent_has_its_simulation_wallet(agent):
    assert list(AgentWallet.objects.filter(agent=agent).values_list("mode", flat=True)) == [
        TradingMode.SIMULATION
    ]


def test_one_wallet_per_agent_and_mode(agent, other_agent):
    expect_integrity_error(
        lambda: AgentWallet.objects.create(
            owner=agent.owner, agent=agent, mode=TradingMode.SIMULATION, address="a-sim-2"
        )
    )
    sealed = {"encrypted_secret": b"c", "secret_salt": b"s", "secret_nonce": b"n"}
    AgentWallet.objects.create(
        owner=agent.owner, agent=agent, mode=TradingMode.LIVE, address="a-live", **sealed
    )
    expect_integrity_error(
        lambda: AgentWallet.objects.create(
            owner=agent.owner, agent=agent, mode=TradingMode.LIVE, address="a-live-2", **sealed
        )
    )
    assert AgentWallet.objects.count() == 3


def test_one_balance_per_wallet_and_token(wallet):
    Balance.objects.create(wallet=wallet, token_address=WSOL, amount=Decimal("1"))
    expect_integrity_error(
        lambda: Balance.objects.create(wallet=wallet, token_address=WSOL, amount=Decimal("2"))
    )


def test_an_idempotency_key_names_one_ledger_entry(agent, wallet):
    def entry(key):
        return Transaction.objects.create(
            agent=agent,
            wallet=wallet,
            type=TransactionType.DEPOSIT,
            input_mint=WSOL,
            input_amount=Decimal("1"),
            idempotency_key=key,
            created_at=timezone.now(),
        )

    entry("tp:1:1")
    expect_integrity_error(lambda: entry("tp:1:1"))
    entry(None)
    entry(None)
    assert Transaction.objects.count() == 3


def test_an_idempotency_key_names_one_signal_per_owner(user, other_user):
    make_signal(user, idempotency_key="k-1")
    expect_integrity_error(lambda: make_signal(user, idempotency_key="k-1"))
    make_signal(other_user, idempotency_key="k-1")
    make_signal(user)
    make_signal(user)
    assert TradingSignal.objects.count() == 4


def test_a_position_has_at_most_one_closed_trade(agent, wallet):
    position = make_position(agent, wallet, status=PositionStatus.CLOSED)

    def closed_trade():
        return ClosedTrade.objects.create(
            agent=agent,
            wallet=wallet,
            position=position,
            token_address=MINT,
            opened_at=position.opened_at,
            closed_at=timezone.now(),
            close_reason=CloseReason.MANUAL,
            purchase_price=position.purchase_price,
            tokens_bought=position.total_tokens_bought,
            invested_sol=Decimal("1"),
            received_sol=Decimal("1.5"),
            profit_loss_sol=Decimal("0.5"),
            change_percent=Decimal("50"),
        )

    closed_trade()
    expect_integrity_error(closed_trade)


def test_an_api_key_is_stored_only_with_a_unique_non_empty_hash(user):
    ApiKey.objects.create(owner=user, name="feed", prefix="nx_abc", key_hash="a" * 64)
    expect_integrity_error(
        lambda: ApiKey.objects.create(owner=user, name="dup", prefix="nx_abd", key_hash="a" * 64)
    )
    expect_integrity_error(
        lambda: ApiKey.objects.create(owner=user, name="empty", prefix="nx_abe", key_hash="")
    )


# --- ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [Decimal("-1"), -SMALLEST_AMOUNT, -BIG_AMOUNT])
def test_a_balance_is_never_negative(wallet, amount):
    expect_integrity_error(
        lambda: Balance.objects.create(wallet=wallet, token_address=WSOL, amount=amount)
    )
    balance = Balance.objects.create(wallet=wallet, token_address=WSOL, amount=Decimal("0"))
    expect_integrity_error(lambda: Balance.objects.filter(pk=balance.pk).update(amount=amount))
    balance.refresh_from_db()
    assert balance.amount == 0


@pytest.mark.parametrize("amount", [Decimal("0"), SMALLEST_AMOUNT, Decimal("1"), BIG_AMOUNT])
def test_a_balance_may_be_zero_or_more(wallet, amount):
    balance = Balance.objects.create(wallet=wallet, token_address=WSOL, amount=amount)
    balance.refresh_from_db()
    assert balance.amount == amount


@pytest.mark.parametrize("amount", [Decimal("-1"), -SMALLEST_AMOUNT])
def test_a_position_never_holds_a_negative_remaining_amount(agent, wallet, amount):
    expect_integrity_error(lambda: make_position(agent, wallet, remaining_amount=amount))
    position = make_position(agent, wallet)
    expect_integrity_error(
        lambda: Position.objects.filter(pk=position.pk).update(remaining_amount=amount)
    )
    Position.objects.filter(pk=position.pk).update(remaining_amount=0)
    position.refresh_from_db()
    assert position.remaining_amount == 0


@pytest.mark.parametrize("strength", [-1, 0, 6, 100])
def test_signal_strength_outside_1_to_5_is_refused(user, strength):
    expect_integrity_error(lambda: make_signal(user, signal_strength=strength))


@pytest.mark.parametrize("strength", [1, 2, 3, 4, 5])
def test_signal_strength_1_to_5_is_stored(user, strength):
    assert make_signal(user, signal_strength=strength).signal_strength == strength


# --- exact amounts ----------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [BIG_AMOUNT, SMALLEST_AMOUNT, MAX_AMOUNT])
def test_amounts_come_back_to_the_last_digit(agent, wallet, amount):
    balance = Balance.objects.create(wallet=wallet, token_address=MINT, amount=amount)
    position = make_position(
        agent,
        wallet,
        total_invested_sol=amount,
        total_tokens_bought=amount,
        remaining_amount=amount,
        realized_sol=amount,
        moon_bag_amount=amount,
    )

    balance.refresh_from_db()
    position.refresh_from_db()
    assert exactly(balance.amount, amount, 18)
    for name in (
        "total_invested_sol",
        "total_tokens_bought",
        "remaining_amount",
        "realized_sol",
        "moon_bag_amount",
    ):
        assert exactly(getattr(position, name), amount, 18), name
    assert exactly(Balance.objects.values_list("amount", flat=True).get(pk=balance.pk), amount, 18)
    # The stored value is exactly this one, not a neighbour that rounds to it.
    assert Balance.objects.filter(amount=amount).count() == 1
    assert not Balance.objects.filter(amount=amount - SMALLEST_AMOUNT).exists()


def test_amounts_that_differ_only_in_the_last_place_stay_different(wallet):
    Balance.objects.create(wallet=wallet, token_address=MINT, amount=BIG_AMOUNT)
    Balance.objects.create(wallet=wallet, token_address=WSOL, amount=BIG_AMOUNT + SMALLEST_AMOUNT)
    stored = dict(Balance.objects.values_list("token_address", "amount"))
    assert exactly(stored[MINT], BIG_AMOUNT, 18)
    assert exactly(stored[WSOL], BIG_AMOUNT + SMALLEST_AMOUNT, 18)
    assert stored[WSOL] - stored[MINT] == SMALLEST_AMOUNT


def test_amounts_written_by_update_and_bulk_create_are_exact(agent, wallet):
    balance = Balance.objects.create(wallet=wallet, token_address=MINT, amount=0)
    Balance.objects.filter(pk=balance.pk).update(amount=BIG_AMOUNT)
    balance.refresh_from_db()
    assert exactly(balance.amount, BIG_AMOUNT, 18)

    Transaction.objects.bulk_create(
        [
            Transaction(
                agent=agent,
                wallet=wallet,
                type=TransactionType.SWAP,
                input_mint=WSOL,
                input_amount=SMALLEST_AMOUNT,
                output_mint=MINT,
                output_amount=BIG_AMOUNT,
                price=PRICES[1],
                protocol_fee_sol=SMALLEST_AMOUNT,
                created_at=timezone.now(),
            )
        ]
    )
    entry = Transaction.objects.get()
    assert exactly(entry.input_amount, SMALLEST_AMOUNT, 18)
    assert exactly(entry.output_amount, BIG_AMOUNT, 18)
    assert exactly(entry.protocol_fee_sol, SMALLEST_AMOUNT, 18)
    assert exactly(entry.price, PRICES[1], 30)


def test_extra_places_round_half_away_from_zero_on_every_database(wallet):
    # numeric(40, 18) rounds this way on PostgreSQL; the field does the same on SQLite.
    balance = Balance.objects.create(
        wallet=wallet, token_address=MINT, amount=Decimal("0.0000000000000000015")
    )
    balance.refresh_from_db()
    assert exactly(balance.amount, Decimal("0.000000000000000002"), 18)


@pytest.mark.parametrize("price", PRICES)
def test_prices_come_back_to_the_last_digit(agent, wallet, price):
    sample = PriceSample.objects.create(
        token_address=MINT,
        price_sol=price,
        price_usd=price,
        source="test",
        observed_at=timezone.now(),
    )
    position = make_position(agent, wallet, purchase_price=price, peak_price=price)

    sample.refresh_from_db()
    position.refresh_from_db()
    assert exactly(sample.price_sol, price, 30)
    assert exactly(sample.price_usd, price, 30)
    assert exactly(position.purchase_price, price, 30)
    assert exactly(position.peak_price, price, 30)
    assert PriceSample.objects.filter(price_sol=price).count() == 1


def test_a_price_with_31_places_is_rounded_not_truncated(wallet):
    sample = PriceSample.objects.create(
        token_address=MINT,
        price_sol=Decimal("0.0000000000000000000000000000015"),
        source="test",
        observed_at=timezone.now(),
    )
    sample.refresh_from_db()
    assert exactly(sample.price_sol, Decimal("0.000000000000000000000000000002"), 30)


def test_a_token_is_stored_once_and_unknown_decimals_stay_null():
    token = Token.objects.create(mint=MINT, symbol="BONK")
    token.refresh_from_db()
    assert token.decimals is None
    expect_integrity_error(lambda: Token.objects.create(mint=MINT))
