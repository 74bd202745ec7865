"""CSV answers of the API's lists (`?format=csv` or `Accept: text/csv`): the renderer content
negotiation picks, and a streamed response for exports that may be long."""

import csv
import json
import re
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

from nexgent.inputs import PLAIN_NUMBER_PATTERN

# A spreadsheet runs a cell that starts with one of these as a formula; provider-supplied text
# (symbol, source, activation reason) must not be able to do that.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A number written out (a negative P/L) is read as the number it is, never run.
_NUMBER = re.compile(PLAIN_NUMBER_PATTERN)


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict):
            # An error answer ({"error", "code", "details"}) stays JSON, and says so.
            response = (renderer_context or {}).get("response")
            if response is not None:
                response["Content-Type"] = "application/json"
            return json.dumps(data).encode()
        return "".join(csv_lines(data)).encode()


class _Line:
    """A file-like object for csv.writer that hands back the line just written."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[Sequence]) -> Iterable[str]:
    """Each row as one CSV line, cells guarded against spreadsheet formulas."""
    writer = csv.writer(_Line())
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_cell(value):
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_STARTS)
        and not _NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def csv_stream(rows: Iterable[Sequence], *, filename: str) -> StreamingHttpResponse:
    """An attachment written row by row as the client reads it: an export of every row never
    sits in memory whole."""
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
