"""Readiness checks the apps contribute (`/health/ready`): each names what keeps the engine
from working, or returns None. The core knows no app; an app registers its checks when it is
ready (its AppConfig.ready imports its `health` module)."""

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

Check = Callable[[], str | None]
_checks: dict[str, Check] = {}
# What the dashboard's banner warns of besides readiness: the engine works, but not as usual
# (the kill switch is on, a price is stale). Never part of /health/ready.
_notices: dict[str, Check] = {}


def readiness_check(name: str) -> Callable[[Check], Check]:
    """Register `check` under `name` (a decorator)."""

    def register(check: Check) -> Check:
        _checks[name] = check
        return check

    return register


def dashboard_notice(name: str) -> Callable[[Check], Check]:
    """Register `check` as a notice of the dashboard's banner under `name` (a decorator)."""

    def register(check: Check) -> Check:
        _notices[name] = check
        return check

    return register


def readiness() -> dict[str, str]:
    """Each registered check's verdict: "ok", or what is wrong."""
    return _verdicts(_checks)


def notices() -> dict[str, str]:
    """Each dashboard notice's verdict: "ok", or what to warn of."""
    return _verdicts(_notices)


def _verdicts(checks: dict[str, Check]) -> dict[str, str]:
    verdicts = {}
    for name, check in checks.items():
        try:
            problem = check()
        except Exception as exc:  # a check that cannot run says so; it never hides the others
            logger.exception("readiness check %s failed", name)
            problem = f"error: {exc.__class__.__name__}"
        verdicts[name] = problem or "ok"
    return verdicts
