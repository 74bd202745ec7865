"""Model fields that keep money exact on every supported database."""

from decimal import ROUND_HALF_UP, Decimal

from django.db import models

from nexgent import money


class ExactDecimalField(models.DecimalField):
    """A DecimalField that loses no digit on SQLite either.

    SQLite gives DECIMAL columns NUMERIC affinity and stores them as 8-byte floats (15
    significant digits). This field declares the column TEXT on SQLite, writes plain
    fixed-point strings and reads them back as Decimal. PostgreSQL keeps numeric(p, s).
    Never compare or add these columns in SQL on SQLite (text comparison); do the arithmetic in
    Python under the row lock, which is what the services do anyway. A non-negative CHECK
    still holds on text, because '-' sorts before every digit.
    """

    def get_internal_type(self):
        # Not "DecimalField": that name makes the SQLite backend convert values through float.
        return "ExactDecimalField"

    def db_type(self, connection):
        if connection.vendor == "sqlite":
            return "text"
        return f"numeric({self.max_digits}, {self.decimal_places})"

    def rel_db_type(self, connection):
        return self.db_type(connection)

    def cast_db_type(self, connection):
        return self.db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        value = self.to_python(value)
        quantum = Decimal(1).scaleb(-self.decimal_places)
        # numeric(p, s) rounds half away from zero; do the same on SQLite.
        value = value.quantize(quantum, rounding=ROUND_HALF_UP)
        if connection.vendor == "sqlite":
            return format(value, "f")
        return value

    def get_db_converters(self, connection):
        # psycopg already returns Decimal for numeric; only SQLite's text needs converting.
        if connection.vendor == "sqlite":
            return [self.from_db_value]
        return []

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Decimal(value) if not isinstance(value, Decimal) else value


def AmountField(**kwargs) -> ExactDecimalField:
    return ExactDecimalField(
        max_digits=money.AMOUNT_MAX_DIGITS, decimal_places=money.AMOUNT_PLACES, **kwargs
    )


def PriceField(**kwargs) -> ExactDecimalField:
    return ExactDecimalField(
        max_digits=money.PRICE_MAX_DIGITS, decimal_places=money.PRICE_PLACES, **kwargs
    )


def PercentField(**kwargs) -> ExactDecimalField:
    return ExactDecimalField(
        max_digits=money.PERCENT_MAX_DIGITS, decimal_places=money.PERCENT_PLACES, **kwargs
    )
