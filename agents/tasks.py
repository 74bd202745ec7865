from celery import shared_task

from agents import auth_services, login_guard


@shared_task
def auth_records_purge() -> None:
    """Forget login sessions that ended and login-guard counters nobody has touched for long
    (hourly, on beat)."""
    auth_services.auth_sessions_purge()
    login_guard.login_counters_purge()
