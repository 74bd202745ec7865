"""CSV export of the signal list: `GET trading-signals?format=csv` or
`GET trading-signals/export.csv`, with the same filters as the JSON list."""

import csv
import io
import json

from rest_framework.renderers import BaseRenderer

from signals_app.selectors import execution_summary

COLUMNS = [
    "id",
    "created_at",
    "processed_at",
    "token_address",
    "symbol",
    "signal_type",
    "signal_strength",
    "source",
    "activation_reason",
    "executed",
    "skipped",
    "failed",
    "pending",
]
AGENT_COLUMNS = ["agent_status", "agent_reason"]
# A spreadsheet runs a cell that starts with one of these as a formula; provider-supplied text
# (symbol, source, activation reason) must not be able to do that.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in data:
            writer.writerow([_cell(value) for value in row])
        return buffer.getvalue().encode()


def signal_rows(signals, *, with_agent: bool) -> list[list]:
    """The header and one row per signal; with the filtered agent's decision if asked."""
    rows: list[list] = [COLUMNS + (AGENT_COLUMNS if with_agent else [])]
    for signal in signals:
        summary = execution_summary(signal)
        row = [
            signal.pk,
            signal.created_at.isoformat(),
            signal.processed_at.isoformat() if signal.processed_at else "",
            signal.token_address,
            signal.symbol,
            signal.signal_type,
            signal.signal_strength,
            signal.source,
            signal.activation_reason,
            *(summary[name] for name in ("executed", "skipped", "failed", "pending")),
        ]
        if with_agent:
            mine = signal.agent_executions
            row += [mine[0].status, mine[0].reason] if mine else ["", ""]
        rows.append(row)
    return rows


def _cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
