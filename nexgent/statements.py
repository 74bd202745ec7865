"""Helpers for the few hot writes done as one hand-written statement on PostgreSQL
(trading/buy_statement.py, the fan-out's decisions in signals_app/services.py): rows passed as
one JSON parameter, and a cursor that binds parameters server-side so psycopg can prepare the
statement (DATABASE_PREPARED_STATEMENTS)."""

import json
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

import psycopg
from django.db import connection, models
from django.db.models import Field, JSONField, Model


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def insert_fields(model: type[Model]) -> tuple[Field, ...]:
    """The fields Django's own insert writes: every concrete field but the automatic key."""
    meta = model._meta
    return tuple(f for f in meta.local_concrete_fields if f is not meta.auto_field)


def row_values(instance: Model, fields: tuple[Field, ...]) -> dict:
    """An unsaved instance's row by column, JSON-ready: the values Django's own insert would
    write (pre_save applied, decimals quantized), decimals and times as text, which
    PostgreSQL reads exactly into the columns' own types (jsonb_populate_record)."""
    row = {}
    for field, plain_type in _plain_types(fields):
        value = getattr(instance, field.attname) if plain_type else None
        if plain_type and (value is None or type(value) is plain_type):
            row[field.column] = value  # what Django's preparation would leave as it is
        else:
            row[field.column] = _json_value(field, instance)
    return row


@lru_cache(maxsize=64)
def _plain_types(fields: tuple[Field, ...]) -> tuple[tuple[Field, type | None], ...]:
    """Each field with the type of value that Django's insert writes as it is (no pre_save of
    its own, a preparation that returns such a value unchanged), or None. A buy writes some
    fifty fields; most are text, integers and keys, and Django's generic preparation of them
    is most of the cost of building the rows."""
    return tuple((field, _plain_type(field)) for field in fields)


# Django's own classes only: a subclass may prepare values its own way.
_PLAIN_CLASSES = {
    models.BooleanField: bool,
    models.CharField: str,
    models.TextField: str,
    models.SmallIntegerField: int,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveBigIntegerField: int,
    models.AutoField: int,
    models.BigAutoField: int,
}


def _plain_type(field: Field) -> type | None:
    if type(field).pre_save is not Field.pre_save:
        return None
    if type(field) is models.ForeignKey:
        field = field.target_field
    return _PLAIN_CLASSES.get(type(field))


def rows_json(rows: list[dict] | dict) -> str:
    return json.dumps(rows)


def _json_value(field: Field, instance: Model):
    value = field.pre_save(instance, True)
    if isinstance(field, JSONField):
        return value  # stored as the JSON it is
    value = field.get_db_prep_save(value, connection)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def server_bound_cursor():
    """A cursor that sends the parameters apart from the SQL (server-side binding), so that
    psycopg prepares a statement once a connection has run it a few times (its
    prepare_threshold): PostgreSQL then skips parsing and planning it. Django's own cursors
    bind client-side. Where queries are logged (DEBUG, a test counting them) Django's cursor is
    used, since Django logs a prepared statement's SQL as None."""
    if connection.queries_logged:
        return connection.cursor()
    connection.ensure_connection()
    return connection.make_cursor(psycopg.Cursor(connection.connection))
