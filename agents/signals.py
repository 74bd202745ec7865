"""Receivers of Django's auth signals."""

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from nexgent import realtime


@receiver(user_logged_out, dispatch_uid="agents.close_sockets_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs):
    """Logging out of the dashboard or the admin closes the WebSockets its cookie opened."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        realtime.credential_revoked(realtime.credential_group("login", session_key))
