"""A buy's ledger writes as ONE SQL statement, on PostgreSQL.

The ORM writes a buy in eight round trips (lock the balances, update both, insert the position
and the ledger entry, begin and commit); a signal fanned out to a thousand agents pays that a
thousand times (docs/benchmarks.md). Here the same rows are written by one statement of
data-modifying CTEs, which PostgreSQL runs atomically:

- `sol` takes the debit off the SOL balance, only if the balance covers it (the row lock it
  takes is the first of the trade, as in every other trade: SOL first, docs/decisions.md);
- `token` adds the tokens to the token's balance, creating the row if needed;
- `new_position` and `new_entry` insert the position and its ledger entry;
- `linked`, when the caller names one, updates the row that records the buy elsewhere (a
  signal's execution) with its outcome and the new rows' ids, in the same transaction.

Every later part reads its input from the one before, so when the balance does not cover the
debit nothing at all is written and the statement returns no row. A unique index hit (a
position already open in the token, or the entry's idempotency key) fails the whole statement.

The values inserted are the ones Django would write for the same model instances (every
concrete field, `pre_save` applied), so the rows are identical to the ORM path's; the test
suite runs both (tests/trading/test_buy_statement.py).
"""

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Model

from trading.models import Balance, Position, Transaction


@dataclass(frozen=True, slots=True)
class LinkedRow:
    """A row outside the ledger that records a buy (a signal's execution for its agent),
    updated in the buy's own transaction: so the buy and its record commit together or not at
    all. `values` are set as given; the `position_field` and `entry_field` foreign keys point
    at the new position and ledger entry."""

    model: type[Model]
    pk: int
    position_field: str
    entry_field: str
    values: dict = dataclass_field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BuyRows:
    position_id: int
    entry_id: int
    sol: Balance  # the SOL balance as the buy left it
    token: Balance  # the token balance as the buy left it


def buy_write(
    *,
    wallet_id: int,
    sol_mint: str,
    debit: Decimal,
    token_amount: Decimal,
    position: Position,
    entry: Transaction,
    now: datetime,
    linked: LinkedRow | None = None,
) -> BuyRows | None:
    """Write the buy; None (and nothing written) when the SOL balance does not cover `debit`.
    `position` and `entry` are unsaved; the entry's position is the one inserted here."""
    amount_field = Balance._meta.get_field("amount")
    debit_value = amount_field.get_db_prep_save(debit, connection)
    tokens_value = amount_field.get_db_prep_save(token_amount, connection)
    now_value = Balance._meta.get_field("updated_at").get_db_prep_save(now, connection)
    position_sql, position_params = _insert_select(position, "sol")
    entry_sql, entry_params = _insert_select(
        entry, "new_position", expressions={"position_id": "new_position.id"}
    )
    linked_sql, linked_params = _linked_update(linked) if linked else ("", [])
    balance = _table(Balance)
    sql = f"""
        WITH sol AS (
            UPDATE {balance} SET amount = amount - %s, updated_at = %s
            WHERE wallet_id = %s AND token_address = %s AND amount >= %s
            RETURNING id, token_symbol, amount
        ), token AS (
            INSERT INTO {balance} AS balance
                (wallet_id, token_address, token_symbol, amount, updated_at)
            SELECT %s, %s, %s, %s, %s FROM sol
            ON CONFLICT (wallet_id, token_address) DO UPDATE SET
                amount = balance.amount + EXCLUDED.amount,
                token_symbol = CASE WHEN balance.token_symbol = ''
                    THEN EXCLUDED.token_symbol ELSE balance.token_symbol END,
                updated_at = EXCLUDED.updated_at
            RETURNING id, token_symbol, amount
        ), new_position AS (
            {position_sql} RETURNING id
        ), new_entry AS (
            {entry_sql} RETURNING id
        ){linked_sql}
        SELECT new_position.id, new_entry.id, sol.id, sol.token_symbol, sol.amount,
            token.id, token.token_symbol, token.amount
        FROM sol, token, new_position, new_entry
    """
    params = [
        debit_value,
        now_value,
        wallet_id,
        sol_mint,
        debit_value,
        wallet_id,
        position.token_address,
        position.token_symbol,
        tokens_value,
        now_value,
        *position_params,
        *entry_params,
        *linked_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    position_id, entry_id, sol_id, sol_symbol, sol_amount, token_id, token_symbol, tokens = row
    return BuyRows(
        position_id,
        entry_id,
        _balance(sol_id, wallet_id, sol_mint, sol_symbol, sol_amount, now),
        _balance(token_id, wallet_id, position.token_address, token_symbol, tokens, now),
    )


def _balance(pk, wallet_id, token_address, token_symbol, amount, now) -> Balance:
    row = Balance(
        id=pk,
        wallet_id=wallet_id,
        token_address=token_address,
        token_symbol=token_symbol,
        amount=amount,
        updated_at=now,
    )
    row._state.adding, row._state.db = False, connection.alias
    return row


def _linked_update(linked: LinkedRow) -> tuple[str, list]:
    meta = linked.model._meta
    quote = connection.ops.quote_name
    assignments, params = [], []
    for name, value in linked.values.items():
        column = meta.get_field(name)
        assignments.append(f"{quote(column.column)} = %s")
        params.append(column.get_db_prep_save(value, connection))
    position_column = quote(meta.get_field(linked.position_field).column)
    entry_column = quote(meta.get_field(linked.entry_field).column)
    assignments += [f"{position_column} = new_position.id", f"{entry_column} = new_entry.id"]
    table = _table(linked.model)
    sql = f""", linked AS (
            UPDATE {table} SET {", ".join(assignments)}
            FROM new_position, new_entry WHERE {table}.{quote(meta.pk.column)} = %s
        )"""
    return sql, [*params, linked.pk]


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _insert_select(
    instance: Model, source: str, *, expressions: dict[str, str] | None = None
) -> tuple[str, list]:
    """`INSERT INTO <table> (...) SELECT ... FROM <source>` writing what Django's own insert of
    this unsaved instance would: every concrete field but the automatic primary key, with its
    pre_save (auto_now) applied. `expressions`: SQL for some columns instead of a value."""
    expressions = expressions or {}
    meta = instance._meta
    columns, values, params = [], [], []
    for field in meta.local_concrete_fields:
        if field is meta.auto_field:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in expressions:
            values.append(expressions[field.column])
            continue
        values.append("%s")
        params.append(field.get_db_prep_save(field.pre_save(instance, True), connection))
    sql = (
        f"INSERT INTO {_table(type(instance))} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {source}"
    )
    return sql, params
