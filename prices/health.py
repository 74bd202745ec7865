"""Market data's readiness: no data source keeps failing. A source that failed this many times
in a row without an answer in between is down, not blipping (each failure has already been
retried by the client)."""

from nexgent.health import readiness_check
from prices.selectors import provider_statuses

FAILURES_THAT_MEAN_DOWN = 3


@readiness_check("market_data")
def data_sources_answering() -> str | None:
    down = [
        f"{status.name} failing ({status.consecutive_failures} in a row: {status.last_error})"
        for status in provider_statuses()
        if status.consecutive_failures >= FAILURES_THAT_MEAN_DOWN
    ]
    return "; ".join(down) or None
