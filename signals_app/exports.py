"""CSV export of the signal list: `GET trading-signals?format=csv` or
`GET trading-signals/export.csv`, with the same filters as the JSON list."""

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
