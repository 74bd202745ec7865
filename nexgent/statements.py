"""Helpers for the few hot writes done as one hand-written statement on PostgreSQL
(trading/buy_statement.py, the fan-out's decisions in signals_app/services.py): rows passed as
one JSON parameter, and a cursor that binds parameters server-side so psycopg can prepare the
statement (DATABASE_PREPARED_STATEMENTS)."""

import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import Field, JSONField, Model

from nexgent.fields import ExactDecimalField


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
    # Asked once a row: every attribute of `django.db.connection` is a lookup of the thread's
    # connection (2 µs), and a buy's rows have some fifty fields.
    on_postgresql = connection.vendor == "postgresql"
    for field, plain_type, text in _preparations(fields):
        if plain_type is not None:
            value = getattr(instance, field.attname)
            if value is None or type(value) is plain_type:
                row[field.column] = value  # what Django's preparation would leave as it is
                continue
        elif text is not None:
            value = text(field, instance, on_postgresql)
            if value is not _GENERIC:
                row[field.column] = value
                continue
        row[field.column] = _json_value(field, instance)
    return row


@lru_cache(maxsize=64)
def _preparations(fields: tuple[Field, ...]) -> tuple[tuple[Field, type | None, object], ...]:
    """Each field with the type of value that Django's insert writes as it is (no pre_save of
    its own, a preparation that returns such a value unchanged), or else a shortcut to its
    text for the usual values (aware times, finite decimals), or neither. A buy writes some
    fifty fields; Django's generic preparation of them was most of the cost of its rows."""
    return tuple((field, _plain_type(field), _TEXT.get(type(field))) for field in fields)


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


_GENERIC = object()  # a value the shortcut leaves to Django's generic preparation


def _time_text(field: models.DateTimeField, instance: Model, on_postgresql: bool):
    """An aware time as PostgreSQL's backend writes it: unchanged by DateTimeField's
    preparation (only a naive one is converted, with a warning) and by the backend's."""
    if field.auto_now or field.auto_now_add:
        value = datetime.now(UTC)  # what pre_save sets, with USE_TZ (always on here)
        setattr(instance, field.attname, value)
    else:
        value = getattr(instance, field.attname)
    if value is None:
        return None
    if type(value) is datetime and value.utcoffset() is not None and on_postgresql:
        return value.isoformat()
    return _GENERIC


def _decimal_text(field: ExactDecimalField, instance: Model, on_postgresql: bool):
    """A finite Decimal as ExactDecimalField prepares it: rounded half away from zero to the
    column's places (what numeric(p, s) does)."""
    value = getattr(instance, field.attname)
    if value is None:
        return None
    if type(value) is Decimal and value.is_finite():
        return format(value.quantize(_quantum(field.decimal_places), rounding=ROUND_HALF_UP), "f")
    return _GENERIC


@lru_cache(maxsize=32)
def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


_TEXT = {models.DateTimeField: _time_text, ExactDecimalField: _decimal_text}


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
    db = connections[DEFAULT_DB_ALIAS]  # the thread's wrapper once, not through the proxy
    if db.queries_logged:
        return db.cursor()
    db.ensure_connection()
    return db.make_cursor(psycopg.Cursor(db.connection))
