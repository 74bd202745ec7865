"""Receivers of Django's auth signals, and of market data's events (prices.events)."""

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver

from agents.models import NotificationEvent, User
from agents.notification_services import notification_queue
from nexgent import realtime
from prices.events import data_source_stale


@receiver(user_logged_out, dispatch_uid="agents.close_sockets_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs):
    """Logging out of the dashboard or the admin closes the WebSockets its cookie opened."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        realtime.credential_revoked(realtime.credential_group("login", session_key))


@receiver(pre_save, sender=User, dispatch_uid="agents.end_api_sessions_on_password_change")
def end_api_sessions_on_password_change(sender, instance, raw=False, **kwargs):
    """A new password ends every API login of the user, as Django ends its cookie sessions
    (the stolen-password case: whoever logged in with the old one is out)."""
    if raw or instance.pk is None:
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        from agents.auth_services import auth_sessions_end_all

        auth_sessions_end_all(instance)


@receiver(data_source_stale, dispatch_uid="agents.notify_data_source_stale")
def notify_data_source_stale(sender, source, problem, **kwargs):
    """Every operator subscribed hears of it: market data is the whole engine's. Queued now:
    no transaction records the transition (a cache flag or counter does)."""
    notification_queue(
        owner_id=None,
        event=NotificationEvent.DATA_SOURCE_STALE,
        title=f"Data source stale or down: {source}",
        body=problem,
    )
