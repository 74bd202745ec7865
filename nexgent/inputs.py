"""What the API accepts: one place for the bounds and formats of every amount, price, percent,
count and name a client sends, and the rule that a body names only fields the endpoint takes.

DRF serializers use the fields below; the agent config (pydantic) and the strategy preview
parse their numbers with `parse_number` and take their caps from here, so a bound is written
once and shows in the OpenAPI schema as `minimum` / `maximum`.
"""

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from solders.pubkey import Pubkey

from nexgent import money

# More than all the SOL there is (under 600 million): a cap that only stops absurd input, such
# as a deposit of 1e20 SOL, which would otherwise sit in the ledger as a real balance.
MAX_SOL = Decimal(1_000_000_000)
# Market caps and liquidity in USD: a thousand times the largest company on earth.
MAX_USD = Decimal(10**15)
# Percent changes (a take-profit target, a trailing stop's trigger): a 10,000x move.
MAX_PERCENT_CHANGE = Decimal(1_000_000)
# Minutes in a year: the longest hold, window or pause a rule can sensibly wait for.
MAX_MINUTES = 525_600
# Token holders, and anything else counted: more than there are people.
MAX_COUNT = 10**10
# Open positions of one agent: the engine's benchmarks run 10,000.
MAX_OPEN_POSITIONS = 10_000
# Row ids: the database's 64-bit keys.
MAX_ID = 2**63 - 1
# Rows in one page of a list, and the furthest a page may start.
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000

# A Solana address in base58 (32 bytes: 32 to 44 characters); the full check decodes it.
MINT_PATTERN = r"^[1-9A-HJ-NP-Za-km-z]{32,44}$"

NAME_MIN_LENGTH = 3
NAME_MAX_LENGTH = 50

# Decimal notation in ASCII digits, an exponent allowed ("1.5E+6", as JSON writes numbers).
# Python's Decimal also reads Arabic-Indic digits ("\u0661\u0660" is 10) and "1_000"; neither
# is how anyone writes an amount on purpose.
PLAIN_NUMBER_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER_PATTERN)
_PLAIN_INTEGER = re.compile(r"[+-]?\d+(?:\.0*)?", re.ASCII)
# Beyond any bound above and still cheap to write out in plain notation ("1E+999999" is not).
_MAX_INTEGER_DIGITS = 30
_MAX_DECIMAL_PLACES = 30


def parse_number(value: object) -> Decimal:
    """A finite Decimal of sane size from a JSON number (int or Decimal, as the project's JSON
    parser reads them) or a numeric string in ASCII digits. Raises ValueError saying
    why not. A float is read through str() (its shortest repr); a boolean is refused."""
    if isinstance(value, bool):  # bool is an int subclass; `true` is never a number here
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, float):
        value = str(value)
    if isinstance(value, str):
        value = value.strip()
        if not _PLAIN_NUMBER.fullmatch(value):
            raise ValueError("must be a number in decimal notation, with ASCII digits")
    elif not isinstance(value, int | Decimal):
        raise ValueError("must be a number or a numeric string")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    # The size first: normalising 1E+999999999 is cheap, writing it out is not.
    if number and (
        number.adjusted() >= _MAX_INTEGER_DIGITS
        or -number.normalize().as_tuple().exponent > _MAX_DECIMAL_PLACES
    ):
        raise ValueError("is too large or has too many decimal places")
    return number


class NumberField(serializers.DecimalField):
    """A DecimalField that reads its input with `parse_number` (ASCII digits, no exponent in
    strings) before DRF checks digits, places and bounds."""

    def to_internal_value(self, data):
        try:
            number = parse_number(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None
        return super().to_internal_value(number)


def SolAmountField(**kwargs) -> NumberField:
    """SOL moved by one operation: at least a lamport, at most MAX_SOL, to the ledger's
    places."""
    return NumberField(
        max_digits=money.AMOUNT_MAX_DIGITS,
        decimal_places=money.AMOUNT_PLACES,
        min_value=Decimal(1).scaleb(-money.SOL_DECIMALS),
        max_value=MAX_SOL,
        **kwargs,
    )


def PriceField(**kwargs) -> NumberField:
    """A token price in SOL: more than zero, to the ledger's price places."""
    return NumberField(
        max_digits=money.PRICE_MAX_DIGITS,
        decimal_places=money.PRICE_PLACES,
        min_value=Decimal(1).scaleb(-money.PRICE_PLACES),
        **kwargs,
    )


class CountField(serializers.IntegerField):
    """An integer with both bounds stated, so the schema and the check say the same. Text must
    be ASCII digits: Python's int() reads Arabic-Indic digits too."""

    def __init__(self, *, min_value: int = 0, max_value: int = MAX_COUNT, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str) and not _PLAIN_INTEGER.fullmatch(data.strip()):
            self.fail("invalid")
        return super().to_internal_value(data)


def IdField(**kwargs) -> CountField:
    """The id of a row: a positive 64-bit integer, as the database keys are."""
    return CountField(min_value=1, max_value=MAX_ID, **kwargs)


def LimitField(**kwargs):
    """How many rows one page of a list returns."""
    return CountField(min_value=1, max_value=MAX_LIMIT, **kwargs)


def validate_mint(value: str) -> str:
    """A serializer validator: the full check of a mint address, which MINT_PATTERN only
    shapes."""
    try:
        Pubkey.from_string(value)
    except ValueError:
        raise serializers.ValidationError(
            "not a valid Solana mint address (base58, 32 bytes)"
        ) from None
    return value


def MintField(**kwargs) -> serializers.RegexField:
    """A token's mint address."""
    return serializers.RegexField(MINT_PATTERN, validators=[validate_mint], **kwargs)


def OffsetField(**kwargs):
    """How many rows of a list come before its page."""
    return CountField(min_value=0, max_value=MAX_OFFSET, **kwargs)


def validate_has_a_letter(value: str) -> None:
    """A Django validator, so the models (and with them the admin's forms) check names the
    same way as the API does."""
    if not any(character.isalpha() for character in value):
        raise DjangoValidationError("must contain a letter", code="no_letter")


def NameField(*, min_length: int = NAME_MIN_LENGTH, max_length: int = NAME_MAX_LENGTH, **kw):
    """A name a person gives (an agent, an API key): trimmed, with at least one letter, so
    "123" or "   " is not a name."""
    return serializers.CharField(
        min_length=min_length,
        max_length=max_length,
        trim_whitespace=True,
        validators=[validate_has_a_letter],
        **kw,
    )


class StrictInputMixin:
    """A request body may name only the fields the endpoint takes: any other key (a typo, a
    read-only field such as `id`, a field of another endpoint) is a 400 naming it, and nothing
    is written. A misspelt optional field silently ignored would leave its default in force.

    Every serializer that reads a request body uses it (through `InputSerializer` or
    `InputModelSerializer`); query-string serializers do not, since `format` and cache-busting
    parameters are fair there."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class InputSerializer(StrictInputMixin, serializers.Serializer):
    pass


class InputModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    pass
