"""The tick's readiness: it has run lately, and every token it tracks had a fresh price."""

from datetime import UTC, datetime

from django.conf import settings

from nexgent.health import readiness_check
from prices.selectors import poll_tick_last


@readiness_check("tick")
def tick_on_time() -> str | None:
    tick = poll_tick_last()
    if tick is None:
        return "no price tick has run yet"
    waited = (datetime.now(UTC) - tick.finished_at).total_seconds()
    if waited > settings.HEALTH_TICK_LATE_SECONDS:
        return f"the last price tick finished {waited:.0f} s ago"
    if tick.stale_tokens:
        return (
            f"{tick.stale_tokens} of {tick.tracked_tokens} tracked tokens had no fresh price at"
            " the last tick: their positions are not evaluated"
        )
    return None
