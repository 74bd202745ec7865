"""The tick's readiness: it has run lately, and every token it tracks had a fresh price; and the
dashboard's notice of a kill switch that is on."""

from datetime import UTC, datetime

from django.conf import settings

from nexgent.health import dashboard_notice, readiness_check
from prices.selectors import poll_tick_last
from trading.models import KillSwitchMode
from trading.risk_selectors import kill_switch_get


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


@dashboard_notice("kill_switch")
def kill_switch_on() -> str | None:
    switch = kill_switch_get()
    if switch.mode == KillSwitchMode.OFF:
        return None
    note = f": {switch.note}" if switch.note else ""
    return f"{switch.get_mode_display()}{note}"
