"""nexgent.statements.row_values against Django's own preparation, field by field: whatever
shortcut it takes for times and exact decimals, each value is the one Django's insert would
write, as text."""

import warnings
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from nexgent.statements import row_values
from trading.models import Position

pytestmark = pytest.mark.django_db


def _django_writes(instance, field, *, pre_save=True):
    """The value Django's insert sends for the field, as the JSON text the statement reads."""
    value = field.pre_save(instance, True) if pre_save else getattr(instance, field.attname)
    value = field.get_db_prep_save(value, connection)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _field(name):
    return Position._meta.get_field(name)


@pytest.mark.parametrize(
    "value",
    [
        # Ties at the column's last place (30 places): rounded half away from zero.
        Decimal("0." + "0" * 29 + "05"),
        Decimal("-0." + "0" * 29 + "05"),
        Decimal("0." + "0" * 29 + "15"),
        Decimal("0." + "0" * 29 + "049999"),
        Decimal("123.456"),
        Decimal("1E+3"),  # an exponent, written out in full
        Decimal("-0"),
        None,
    ],
    ids=repr,
)
def test_an_exact_decimal_is_what_django_writes(value):
    field = _field("purchase_price")
    position = Position(purchase_price=value)

    assert row_values(position, (field,)) == {field.column: _django_writes(position, field)}


def test_a_decimal_django_refuses_is_refused_the_same_way():
    field = _field("purchase_price")
    with pytest.raises(ValidationError):
        row_values(Position(purchase_price=Decimal("NaN")), (field,))


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 11, 22, 12, 30, tzinfo=timezone(timedelta(hours=-5))),
        None,
    ],
    ids=str,
)
def test_a_time_is_what_django_writes(value):
    field = _field("closed_at")
    position = Position(closed_at=value)

    assert row_values(position, (field,)) == {field.column: _django_writes(position, field)}


def test_a_naive_time_goes_through_djangos_own_conversion():
    field = _field("closed_at")
    position = Position(closed_at=datetime(2026, 11, 22, 12, 30))  # noqa: DTZ001 - naive on purpose
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        expected = _django_writes(position, field)

        assert row_values(position, (field,)) == {field.column: expected}


def test_an_auto_now_time_is_set_on_the_instance_and_written():
    field = _field("updated_at")
    position = Position()
    before = datetime.now(UTC)

    row = row_values(position, (field,))

    assert before <= position.updated_at <= datetime.now(UTC)
    # The time row_values set, as Django would write it.
    assert row == {field.column: _django_writes(position, field, pre_save=False)}
