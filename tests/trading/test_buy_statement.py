"""The one-statement buy of PostgreSQL (trading/buy_statement.py) against the ORM buy that
SQLite uses: the same buys written both ways must leave identical rows, and a refused buy must
write nothing either way."""

from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from agents.services import agent_create
from nexgent import money
from signals_app.models import SignalExecution
from tests.backends import ON_POSTGRES
from trading import services
from trading.buy_statement import LinkedRow, LinkedRowRefused
from trading.models import Balance, Position, Transaction
from trading.services import TradeRefused, balance_deposit
from trading.venues import Fill

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="the statement is PostgreSQL's"),
]
WRITERS = {"orm": services._buy_by_orm, "statement": services._buy_by_statement}
TOKEN = "So1idTokenMint1111111111111111111111111111"
# Amounts with every decimal place the ledger keeps, so a rounding difference would show.
FILL = Fill(
    sol_amount=Decimal("0.123456789"),
    token_amount=Decimal("98765.432101"),
    protocol_fee_sol=Decimal("0.000123456"),
    network_fee_sol=Decimal("0.000105"),
    price_impact=Decimal("0.0012"),
)
# Fields that name the rows rather than describe them.
IDENTITY = {"id", "agent", "wallet", "position", "signal"}


@pytest.fixture(autouse=True)
def _market(localnet):
    """SOL/USD for the entries, from the local market."""


def _funded_wallet(user, name: str, sol: str):
    agent = agent_create(owner=user, name=name)
    wallet = agent.wallets.get(mode="simulation")
    balance_deposit(wallet=wallet, amount=Decimal(sol))
    return wallet


def _buy(
    writer: str,
    wallet,
    *,
    symbol: str = "SLD",
    key: str | None = None,
    fill=FILL,
    signal_id: int | None = None,
    linked: LinkedRow | None = None,
):
    position, entry = services._new_buy(
        agent=wallet.agent,
        wallet=wallet,
        token_address=TOKEN,
        token_symbol=symbol,
        decimals=6,
        fill=fill,
        stop_loss_percent=Decimal("-32"),
        signal_id=signal_id,
        idempotency_key=key or f"test:{writer}:{wallet.pk}",
    )
    return services._write_buy(WRITERS[writer], position, entry, linked)


def _described(row, *, without=()) -> dict:
    data = model_to_dict(row)
    return {k: v for k, v in data.items() if k not in IDENTITY and k not in without}


def _wallet_state(wallet) -> dict:
    balances = {
        b.token_address: (b.amount, b.token_symbol) for b in Balance.objects.filter(wallet=wallet)
    }
    positions = [_described(p) for p in Position.objects.filter(wallet=wallet).order_by("pk")]
    entries = [
        _described(t, without={"idempotency_key", "created_at"})
        for t in Transaction.objects.filter(wallet=wallet).exclude(type="deposit").order_by("pk")
    ]
    return {"balances": balances, "positions": positions, "entries": entries}


def _same_times(*results):
    """Each buy stamps its own `now`; the test compares everything but the clock."""
    for result in results:
        Position.objects.filter(pk=result.position.pk).update(
            opened_at=results[0].position.opened_at
        )


def test_a_buy_leaves_the_same_rows_either_way(user):
    wallets = {writer: _funded_wallet(user, f"buyer-{writer}", "7.5") for writer in WRITERS}
    results = [_buy(writer, wallets[writer]) for writer in WRITERS]
    _same_times(*results)
    orm, statement = (_wallet_state(wallets[writer]) for writer in WRITERS)
    assert statement == orm
    expected_sol = Decimal("7.5") - FILL.sol_amount - FILL.protocol_fee_sol - FILL.network_fee_sol
    assert statement["balances"][money.WSOL_MINT][0] == expected_sol
    assert statement["balances"][TOKEN] == (FILL.token_amount, "SLD")


def test_the_returned_instances_are_the_rows_written(user):
    wallet = _funded_wallet(user, "buyer", "3")
    result = _buy("statement", wallet)
    stored = Position.objects.get(pk=result.position.pk)
    assert model_to_dict(stored) == model_to_dict(result.position)
    entry = Transaction.objects.get(pk=result.transaction.pk)
    assert entry.position_id == result.position.pk
    assert model_to_dict(entry) == model_to_dict(result.transaction)


def test_an_existing_token_balance_is_added_to_and_keeps_its_symbol(user):
    """A token row left by an earlier, closed position: the statement adds to it, and keeps
    the symbol it had (or takes the buy's when it had none), as the ORM does."""
    wallets = {writer: _funded_wallet(user, f"holder-{writer}", "9") for writer in WRITERS}
    for writer, wallet in wallets.items():
        Balance.objects.create(wallet=wallet, token_address=TOKEN, amount=Decimal("0.5"))
        _buy(writer, wallet, symbol="NEW")
    orm, statement = (_wallet_state(wallets[writer])["balances"][TOKEN] for writer in WRITERS)
    assert statement == orm == (FILL.token_amount + Decimal("0.5"), "NEW")


@pytest.mark.parametrize("writer", WRITERS)
def test_a_balance_that_cannot_cover_the_debit_writes_nothing(user, writer):
    wallet = _funded_wallet(user, "short", "0.1")
    before = _wallet_state(wallet)
    with pytest.raises(TradeRefused) as refused:
        _buy(writer, wallet)
    assert refused.value.code == "insufficient_balance"
    assert "0.1" in str(refused.value)
    assert _wallet_state(wallet) == before
    assert not Balance.objects.filter(wallet=wallet, token_address=TOKEN).exists()


@pytest.mark.parametrize("writer", WRITERS)
def test_a_second_buy_with_the_same_key_writes_nothing(user, writer):
    wallet = _funded_wallet(user, "twice", "5")
    _buy(writer, wallet, key="buy:1:1")
    Position.objects.filter(wallet=wallet).update(status="closed")
    after_first = _wallet_state(wallet)
    with pytest.raises(TradeRefused) as refused:
        _buy(writer, wallet, key="buy:1:1")
    assert refused.value.code == "position_exists"
    assert _wallet_state(wallet) == after_first


@pytest.mark.parametrize("writer", WRITERS)
def test_a_refused_buy_inside_a_transaction_leaves_it_usable(user, writer):
    wallet = _funded_wallet(user, "nested", "5")
    _buy(writer, wallet)
    with transaction.atomic():
        with pytest.raises(TradeRefused):
            _buy(writer, wallet, key="another key, same open position")
        # The caller's transaction goes on: a failed statement would have aborted it.
        Balance.objects.filter(wallet=wallet, token_address=money.WSOL_MINT).update(
            token_symbol="SOL"
        )
    assert Balance.objects.get(wallet=wallet, token_address=money.WSOL_MINT).token_symbol == "SOL"
    assert Position.objects.filter(wallet=wallet).count() == 1


def test_the_statement_is_one_round_trip(user):
    from django.test.utils import CaptureQueriesContext

    wallet = _funded_wallet(user, "one", "5")
    with CaptureQueriesContext(connection) as queries:
        _buy("statement", wallet)
    assert len(queries) == 1


def test_the_statement_fits_psycopgs_cache_of_converted_queries(user):
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

    from trading import buy_statement
    from trading.risk_selectors import kill_switch_allows_buys_sql

    wallet = _funded_wallet(user, "cached", "5")
    # As a signal's buy writes it: claiming its execution, under the kill switch.
    linked = _claiming(_execution(user, wallet), kill_switch_allows_buys_sql())

    sql = buy_statement._statement(buy_statement._linked_shape(linked)).sql

    # Longer, psycopg would convert its placeholders again on every buy.
    assert len(sql) <= MAX_CACHED_STATEMENT_LENGTH


def _execution(user, wallet):
    from signals_app.models import SignalExecution, TradingSignal

    signal = TradingSignal.objects.create(
        owner=user,
        token_address=TOKEN,
        signal_type="BUY",
        signal_strength=3,
        created_at=timezone.now(),
    )
    return SignalExecution.objects.create(signal=signal, agent=wallet.agent, status="executing")


def _linked(execution) -> LinkedRow:
    return LinkedRow(
        type(execution),
        execution.pk,
        "position",
        "transaction",
        values={"status": "executed", "reason": "", "updated_at": timezone.now()},
    )


@pytest.mark.parametrize("writer", WRITERS)
def test_the_linked_row_is_written_with_the_buy(user, writer):
    wallet = _funded_wallet(user, "linked", "5")
    execution = _execution(user, wallet)
    result = _buy(writer, wallet, signal_id=execution.signal_id, linked=_linked(execution))
    execution.refresh_from_db()
    assert (execution.status, execution.position_id, execution.transaction_id) == (
        "executed",
        result.position.pk,
        result.transaction.pk,
    )


@pytest.mark.parametrize("writer", WRITERS)
def test_a_refused_buy_leaves_the_linked_row_alone(user, writer):
    wallet = _funded_wallet(user, "unlinked", "0.1")
    execution = _execution(user, wallet)
    with pytest.raises(TradeRefused):
        _buy(writer, wallet, signal_id=execution.signal_id, linked=_linked(execution))
    execution.refresh_from_db()
    assert (execution.status, execution.position_id, execution.transaction_id) == (
        "executing",
        None,
        None,
    )


def test_a_connection_prepares_the_statement_once_it_has_run_it_a_few_times(user):
    """The statement binds its values server-side, so psycopg prepares it (prepare_threshold,
    DATABASE_PREPARED_STATEMENTS): PostgreSQL then stops parsing and planning it per buy."""
    wallet = _funded_wallet(user, "often", "50")
    for n in range(connection.connection.prepare_threshold + 1):
        Position.objects.filter(wallet=wallet).update(status="closed")
        _buy("statement", wallet, key=f"often:{n}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("new_position AS" in statement for statement in prepared)


def _claiming(execution, condition=None) -> LinkedRow:
    """The linked row as a signal's buy claims it: only while still pending."""
    return replace(_linked(execution), expect={"status": "pending"}, condition=condition)


@pytest.mark.parametrize("writer", WRITERS)
def test_a_claiming_buy_is_written_while_the_row_holds_what_it_expects(user, writer):
    wallet = _funded_wallet(user, "claims", "5")
    execution = _execution(user, wallet)
    SignalExecution.objects.filter(pk=execution.pk).update(status="pending")
    holds = ("1 = %s", (1,))
    result = _buy(writer, wallet, signal_id=execution.signal_id, linked=_claiming(execution, holds))
    execution.refresh_from_db()
    assert (execution.status, execution.position_id) == ("executed", result.position.pk)


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize(
    ("status", "condition"),
    [("skipped", None), ("executing", None), ("pending", ("1 = %s", (2,)))],
    ids=["decided-elsewhere", "claimed-by-an-older-delivery", "condition-fails"],
)
def test_a_claiming_buy_writes_nothing_when_the_row_refuses(user, writer, status, condition):
    wallet = _funded_wallet(user, "refuses", "5")
    execution = _execution(user, wallet)
    SignalExecution.objects.filter(pk=execution.pk).update(status=status)
    before = _wallet_state(wallet)
    with pytest.raises(LinkedRowRefused):
        _buy(writer, wallet, signal_id=execution.signal_id, linked=_claiming(execution, condition))
    execution.refresh_from_db()
    assert (execution.status, execution.position_id, execution.transaction_id) == (
        status,
        None,
        None,
    )
    assert _wallet_state(wallet) == before
