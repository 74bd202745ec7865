"""Readiness checks the apps contribute (`/health/ready`): each names what keeps the engine
from working, or returns None. The core knows no app; an app registers its checks when it is
ready (its AppConfig.ready imports its `health` module)."""

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

Check = Callable[[], str | None]
_checks: dict[str, Check] = {}


def readiness_check(name: str) -> Callable[[Check], Check]:
    """Register `check` under `name` (a decorator)."""

    def register(check: Check) -> Check:
        _checks[name] = check
        return check

    return register


def readiness() -> dict[str, str]:
    """Each registered check's verdict: "ok", or what is wrong."""
    verdicts = {}
    for name, check in _checks.items():
        try:
            problem = check()
        except Exception as exc:  # a check that cannot run says so; it never hides the others
            logger.exception("readiness check %s failed", name)
            problem = f"error: {exc.__class__.__name__}"
        verdicts[name] = problem or "ok"
    return verdicts
