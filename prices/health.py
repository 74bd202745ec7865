"""Market data's readiness: no data source keeps failing. A source that failed this many times
in a row without an answer in between is down, not blipping (each failure has already been
retried by the client). The dashboard also warns while the last SOL/USD is stale: the figures
in USD may be out of date."""

from nexgent.health import dashboard_notice, readiness_check
from prices.providers import FAILURES_THAT_MEAN_DOWN
from prices.selectors import provider_statuses, sol_usd_status


@readiness_check("market_data")
def data_sources_answering() -> str | None:
    down = [
        f"{status.name} failing ({status.consecutive_failures} in a row: {status.last_error})"
        for status in provider_statuses()
        if status.consecutive_failures >= FAILURES_THAT_MEAN_DOWN
    ]
    return "; ".join(down) or None


@dashboard_notice("sol_usd")
def sol_usd_stale() -> str | None:
    # A price never fetched is not stale: its provider failing is readiness's concern.
    status = sol_usd_status()
    if not status.is_stale or status.age_seconds is None:
        return None
    return f"stale, last published {status.age_seconds:.0f} s ago"
