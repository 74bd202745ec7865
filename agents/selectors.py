"""Reads of the agents app that authentication needs before DRF is loaded (no DRF imports)."""

from django.utils import timezone

from agents.models import AuthSession

# The claim that ties a JWT to its login session (agents.auth_services).
SESSION_CLAIM = "sid"


def auth_session_active(session_id: str | None) -> bool:
    """The login session exists, is not ended and has not expired."""
    if not session_id:
        return False
    return AuthSession.objects.filter(
        pk=session_id, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()
