"""Signals' readiness: no committed signal waits for work the resume sweep should have done."""

from django.conf import settings

from nexgent.health import readiness_check
from signals_app.selectors import signals_unfinished


@readiness_check("signals")
def signals_keep_up() -> str | None:
    # Past the sweep's own wait and two of its runs: the fan-out or the buys keep failing, or
    # no worker takes them.
    waited = settings.SIGNAL_RESUME_AFTER_SECONDS + 2 * settings.SIGNAL_RESUME_INTERVAL_SECONDS
    unfinished = signals_unfinished(waited_seconds=waited, limit=100)
    problems = []
    if unfinished.signals:
        problems.append(f"{len(unfinished.signals)} signal(s) not fanned out")
    if unfinished.pending:
        problems.append(f"buys of {len(unfinished.pending)} signal(s) still pending")
    if not problems:
        return None
    return " and ".join(problems) + f" after more than {waited} s"
