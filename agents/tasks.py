from celery import shared_task

from agents import auth_services, login_guard, notification_services


@shared_task
def auth_records_purge() -> None:
    """Forget login sessions that ended and login-guard counters nobody has touched for long
    (hourly, on beat)."""
    auth_services.auth_sessions_purge()
    login_guard.login_counters_purge()


@shared_task(ignore_result=True)
def notifications_send(
    *, owner_id: int | None, event: str, title: str, body: str, agent_id: int | None = None
) -> None:
    """Send one event's notification to the channels subscribed to it (queued by
    notification_services.notify after commit). Best effort, so no retry: each channel records
    its own failure, and a retry would send again to those that had it."""
    notification_services.notifications_send(
        owner_id=owner_id, event=event, title=title, body=body, agent_id=agent_id
    )
