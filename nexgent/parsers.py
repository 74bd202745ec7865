"""Request parsers. Kept apart from nexgent.api because DRF imports parsers while it loads."""

import codecs
import json
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant


class DecimalJSONParser(JSONParser):
    """JSON bodies with numbers parsed as Decimal, so no digit of an amount is lost to float.
    NaN and Infinity are refused, as DRF's strict JSON parser refuses them, and so is a document
    nested too deeply to read."""

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF's get_encoding refuses bytes-to-bytes codecs (bz2_codec...) that could expand a
        # small body without bound after the size check.
        encoding = get_encoding(parser_context or {})
        try:
            return json.load(
                codecs.getreader(encoding)(stream),
                parse_float=Decimal,
                parse_constant=strict_constant,
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError:
            # A few kilobytes of brackets nest deeper than the parser can go: bad input like
            # any other, never a server error.
            raise ParseError("JSON parse error - nested too deeply") from None
