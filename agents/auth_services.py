"""Operator login with lockout: 5 failed logins lock the account for 15 minutes."""

from datetime import timedelta

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework_simplejwt.tokens import RefreshToken

from agents.models import User
from nexgent.api import DomainError

MAX_FAILED_LOGINS = 5
LOCK_DURATION = timedelta(minutes=15)
REMEMBER_ME_LIFETIME = timedelta(days=30)


def auth_login(*, email: str, password: str, remember_me: bool = False) -> dict:
    """Check the credentials (with lockout) and issue an access + refresh token pair."""
    user = auth_check_credentials(email=email, password=password)
    refresh = RefreshToken.for_user(user)
    if remember_me:
        refresh.set_exp(lifetime=REMEMBER_ME_LIFETIME)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def auth_check_credentials(*, email: str, password: str) -> User:
    """The user for these credentials, counting failures towards the lockout."""
    email = email.strip().lower()
    now = timezone.now()
    user = User.objects.filter(email=email).first()
    if user is not None and user.locked_until and user.locked_until > now:
        raise DomainError(
            "Account locked after repeated failed logins.",
            code="account_locked",
            status_code=status.HTTP_423_LOCKED,
            details=[{"field": None, "message": f"locked_until={user.locked_until.isoformat()}"}],
        )
    # authenticate() hashes the password even for an unknown email, so both take the same time.
    authenticated = authenticate(username=email, password=password)
    if authenticated is None:
        if user is not None:
            _record_failure(user.pk, now)
        raise DomainError(
            "Invalid email or password.",
            code="invalid_credentials",
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    User.objects.filter(pk=authenticated.pk).update(
        failed_login_count=0, locked_until=None, last_login=now
    )
    return authenticated


def _record_failure(user_id: int, now) -> None:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        user.failed_login_count += 1
        if user.failed_login_count >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCK_DURATION
            user.failed_login_count = 0
        user.save(update_fields=["failed_login_count", "locked_until"])
