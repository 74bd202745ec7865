"""A buy's ledger writes as ONE SQL statement, on PostgreSQL.

The ORM writes a buy in eight round trips (lock the balances, update both, insert the position
and the ledger entry, begin and commit); a signal fanned out to a thousand agents pays that a
thousand times (docs/benchmarks.md). Here the same rows are written by one statement of
data-modifying CTEs, which PostgreSQL runs atomically:

- `claimed`, when the caller names a linked row (`LinkedRow`), locks it if it still allows
  the buy (its expected values, its condition); every later part needs it;
- `sol` takes the debit off the SOL balance, only if the balance covers it (the row lock it
  takes is the first of the trade's balance locks, as in every other trade: SOL first,
  docs/decisions.md);
- `token` adds the tokens to the token's balance, creating the row if needed;
- `new_position` and `new_entry` insert the position and its ledger entry;
- `linked`, when the caller names one, updates the row that records the buy elsewhere (a
  signal's execution) with its outcome and the new rows' ids, in the same transaction.

Every later part reads its input from the one before, so when the linked row refuses or the
balance does not cover the debit nothing at all is written; the statement's one row says which. A unique index hit (a
position already open in the token, or the entry's idempotency key) fails the whole statement.

The values inserted are the ones Django would write for the same model instances (every
concrete field, `pre_save` applied), so the rows are identical to the ORM path's; the test
suite runs both (tests/trading/test_buy_statement.py).
"""

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

from nexgent.statements import row_values, rows_json, server_bound_cursor
from nexgent.statements import table as table_name
from trading.models import Balance, Position, Transaction


@dataclass(frozen=True, slots=True)
class LinkedRow:
    """A row outside the ledger that records a buy (a signal's execution for its agent),
    updated in the buy's own transaction: so the buy and its record commit together or not at
    all. `values` are set as given; the `position_field` and `entry_field` foreign keys point
    at the new position and ledger entry.

    The buy is written only if the row, locked first, still holds `expect` (values by field
    name) and `condition` (SQL over nothing but its parameters, e.g. the kill switch) holds;
    otherwise nothing is written and LinkedRowRefused is raised. This is how a signal's buy
    claims its execution: in the buy itself, not in a round trip before it."""

    model: type[Model]
    pk: int
    position_field: str
    entry_field: str
    values: dict = dataclass_field(default_factory=dict)
    expect: dict = dataclass_field(default_factory=dict)
    condition: tuple[str, tuple] | None = None


class LinkedRowRefused(Exception):
    """The linked row did not allow the buy (it no longer held `expect`, or `condition`
    failed): nothing was written."""


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
    """Write the buy; None (and nothing written) when the SOL balance does not cover `debit`,
    LinkedRowRefused when `linked` does not allow it. `position` and `entry` are unsaved; the
    entry's position is the one inserted here."""
    statement = _statement(_linked_shape(linked))
    # The thread's connection itself: through `django.db.connection`, each of the fields'
    # preparations would look it up again.
    db = connections[DEFAULT_DB_ALIAS]
    debit_value = _AMOUNT.get_db_prep_save(debit, db)
    now_value = _UPDATED_AT.get_db_prep_save(now, db)
    params = [
        *(linked_claim_params(linked, db) if linked is not None else ()),
        debit_value,
        now_value,
        wallet_id,
        sol_mint,
        debit_value,
        wallet_id,
        position.token_address,
        position.token_symbol,
        _AMOUNT.get_db_prep_save(token_amount, db),
        now_value,
        rows_json(row_values(position, statement.position_fields)),
        rows_json(row_values(entry, statement.entry_fields)),
    ]
    if linked is not None:
        params += [*_values(linked.values, statement.linked_fields, db), linked.pk]
    with server_bound_cursor() as cursor:
        cursor.execute(statement.sql, params)
        claimed, *row = cursor.fetchone()
    if not claimed:
        raise LinkedRowRefused(f"{linked.model.__name__} {linked.pk} did not allow the buy")
    if row[0] is None:
        return None
    position_id, entry_id, sol_id, sol_symbol, sol_amount, token_id, token_symbol, tokens = row
    return BuyRows(
        position_id,
        entry_id,
        _balance(sol_id, wallet_id, sol_mint, sol_symbol, sol_amount, now, db.alias),
        _balance(token_id, wallet_id, position.token_address, token_symbol, tokens, now, db.alias),
    )


_AMOUNT = Balance._meta.get_field("amount")
_UPDATED_AT = Balance._meta.get_field("updated_at")


@dataclass(frozen=True, slots=True)
class _Statement:
    """The SQL of a buy, built once per shape, and the fields whose values fill it."""

    sql: str
    position_fields: tuple[Field, ...]
    entry_fields: tuple[Field, ...]
    linked_fields: tuple[Field, ...]


def _linked_shape(linked: LinkedRow | None) -> tuple | None:
    if linked is None:
        return None
    return (
        linked.model,
        tuple(linked.values),
        linked.position_field,
        linked.entry_field,
        tuple(linked.expect),
        linked.condition[0] if linked.condition else None,
    )


def linked_claim_sql(linked: LinkedRow, *, lock: bool) -> str:
    """SELECT of the linked row if it allows the buy (locked FOR UPDATE if `lock`); its
    parameters: linked_claim_params."""
    condition = linked.condition[0] if linked.condition else None
    return _claim_sql(linked.model, tuple(linked.expect), condition, lock=lock)


def _claim_sql(model, expect: tuple[str, ...], condition: str | None, *, lock: bool) -> str:
    meta = model._meta
    quote = connection.ops.quote_name
    pk = quote(meta.pk.column)
    tests = [f"{pk} = %s", *(f"{quote(meta.get_field(name).column)} = %s" for name in expect)]
    if condition:
        tests.append(f"({condition})")
    where = " AND ".join(tests)
    return f"SELECT {pk} FROM {table_name(model)} WHERE {where}" + (" FOR UPDATE" if lock else "")


def linked_claim_params(linked: LinkedRow, db=connection) -> list:
    meta = linked.model._meta
    expected = [
        meta.get_field(name).get_db_prep_save(value, db) for name, value in linked.expect.items()
    ]
    return [linked.pk, *expected, *(linked.condition[1] if linked.condition else ())]


@lru_cache(maxsize=16)
def _statement(linked_shape: tuple | None) -> _Statement:
    position_sql, position_fields = _insert_select(Position, "sol")
    entry_sql, entry_fields = _insert_select(
        Transaction, "new_position", expressions={"position_id": "new_position.id"}
    )
    linked_sql, linked_fields = _linked_update(*linked_shape[:4]) if linked_shape else ("", ())
    claimed_sql = _claimed(linked_shape) if linked_shape else "SELECT 1"
    balance = table_name(Balance)
    amount, when = _typed(_AMOUNT), _typed(_UPDATED_AT)
    sql = f"""
        WITH claimed AS (
            {claimed_sql}
        ), sol AS (
            UPDATE {balance} SET amount = amount - {amount}, updated_at = {when}
            WHERE wallet_id = %s AND token_address = %s AND amount >= {amount}
                AND EXISTS (SELECT 1 FROM claimed)
            RETURNING id, token_symbol, amount
        ), token AS (
            INSERT INTO {balance} AS balance
                (wallet_id, token_address, token_symbol, amount, updated_at)
            SELECT {_typed(Balance._meta.get_field("wallet"))},
                {_typed(Balance._meta.get_field("token_address"))},
                {_typed(Balance._meta.get_field("token_symbol"))}, {amount}, {when}
            FROM sol
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
        SELECT (SELECT count(*) FROM claimed), new_position.id, new_entry.id, sol.id,
            sol.token_symbol, sol.amount, token.id, token.token_symbol, token.amount
        FROM (SELECT 1) AS one LEFT JOIN (
            sol CROSS JOIN token CROSS JOIN new_position CROSS JOIN new_entry
        ) ON TRUE
    """
    # One space for each run of whitespace (no literal holds two): psycopg caches a query's
    # conversion only up to 4096 characters, which the indented text was just under.
    sql = " ".join(sql.split())
    return _Statement(sql, position_fields, entry_fields, linked_fields)


def _claimed(linked_shape: tuple) -> str:
    """The statement's first part: the linked row, locked, if it allows the buy."""
    model, _, _, _, expect, condition = linked_shape
    return _claim_sql(model, expect, condition, lock=True)


def _values(values: dict, fields: tuple[Field, ...], db) -> list:
    """The database values of these fields, from a dict by field name."""
    return [field.get_db_prep_save(values[field.name], db) for field in fields]


def _typed(field: Field) -> str:
    """A placeholder cast to the field's column type: a parameter bound server-side in a
    SELECT list has no type of its own to go by."""
    return f"CAST(%s AS {field.cast_db_type(connection)})"


def _balance(pk, wallet_id, token_address, token_symbol, amount, now, alias: str) -> Balance:
    row = Balance(
        id=pk,
        wallet_id=wallet_id,
        token_address=token_address,
        token_symbol=token_symbol,
        amount=amount,
        updated_at=now,
    )
    row._state.adding, row._state.db = False, alias
    return row


def _linked_update(model, names, position_field, entry_field) -> tuple[str, tuple[Field, ...]]:
    meta = model._meta
    quote = connection.ops.quote_name
    fields = tuple(meta.get_field(name) for name in names)
    assignments = [f"{quote(field.column)} = %s" for field in fields]
    position_column = quote(meta.get_field(position_field).column)
    entry_column = quote(meta.get_field(entry_field).column)
    assignments += [f"{position_column} = new_position.id", f"{entry_column} = new_entry.id"]
    table = table_name(model)
    sql = f""", linked AS (
            UPDATE {table} SET {", ".join(assignments)}
            FROM new_position, new_entry WHERE {table}.{quote(meta.pk.column)} = %s
        )"""
    return sql, fields


def _insert_select(
    model: type[Model], source: str, *, expressions: dict[str, str] | None = None
) -> tuple[str, tuple[Field, ...]]:
    """`INSERT INTO <table> (...) SELECT ... FROM <source>, <the row>` of every concrete field
    but the automatic primary key, the row being one JSON parameter (`row_values`) read into the
    table's own row type; and the fields that parameter carries. `expressions`: SQL for some
    columns instead of the row's value."""
    expressions = expressions or {}
    meta = model._meta
    quote = connection.ops.quote_name
    table = table_name(model)
    columns, values, fields = [], [], []
    for field in meta.local_concrete_fields:
        if field is meta.auto_field:
            continue
        columns.append(quote(field.column))
        if field.column in expressions:
            values.append(expressions[field.column])
            continue
        values.append(f"given.{quote(field.column)}")
        fields.append(field)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
        f"FROM {source}, jsonb_populate_record(NULL::{table}, %s::jsonb) AS given"
    )
    return sql, tuple(fields)
