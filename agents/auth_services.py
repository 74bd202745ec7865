"""Operator login for the API: the login guard, then a session whose tokens end together.

A login creates an AuthSession and a refresh + access token pair that both carry its id
(`sid`). Every request's access token is checked against its session (one indexed read), so
logout ends the session's tokens at once instead of when they expire. A refresh rotates the
pair inside the session; the session keeps only the id (`jti`) of its current refresh token,
never a token, and a refresh token presented a second time (stolen and replayed, or replayed by
the thief after its owner) ends the whole session. A session lasts REFRESH_TOKEN_LIFETIME from
login (REMEMBER_ME_LIFETIME with remember_me), however often it is refreshed.
"""

import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import models, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from agents.backends import login_refusal_of
from agents.models import AuthSession, User
from agents.selectors import SESSION_CLAIM, auth_session_active
from nexgent import realtime
from nexgent.api import DomainError

REMEMBER_ME_LIFETIME = timedelta(days=30)


def auth_login(*, request, email: str, password: str, remember_me: bool = False) -> dict:
    """Check the credentials through the login guard and open a session."""
    user = authenticate(request, username=email, password=password)
    if user is None:
        _raise_refusal(request)
    return auth_session_open(user, remember_me=remember_me)


def _raise_refusal(request) -> None:
    refusal = login_refusal_of(request)
    if refusal is None:
        raise DomainError(
            "Invalid email or password.",
            code="invalid_credentials",
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    if refusal.code == "throttled":
        raise Throttled(wait=refusal.retry_after_seconds, detail=refusal.message)
    raise DomainError(
        refusal.message,
        code="account_locked",
        status_code=status.HTTP_423_LOCKED,
        details=[{"field": None, "message": f"locked_until={refusal.until.isoformat()}"}],
    )


def auth_session_open(user: User, *, remember_me: bool = False) -> dict:
    """A new session for the user and its first token pair."""
    lifetime = (
        REMEMBER_ME_LIFETIME if remember_me else settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    )
    refresh = RefreshToken.for_user(user)
    refresh.set_exp(lifetime=lifetime)
    refresh[SESSION_CLAIM] = secrets.token_hex(16)
    AuthSession.objects.create(
        id=refresh[SESSION_CLAIM],
        user=user,
        refresh_jti=refresh["jti"],
        expires_at=datetime.fromtimestamp(refresh["exp"], UTC),
    )
    return _pair(refresh)


def auth_refresh(raw_refresh: str) -> dict:
    """Rotate a session's token pair; a refresh token used twice ends its session."""
    refresh = _valid_refresh(raw_refresh)
    now = timezone.now()
    with transaction.atomic():
        session = _live_session_for_update(refresh.get(SESSION_CLAIM), now)
        replayed = session is not None and session.refresh_jti != refresh["jti"]
        if session is not None and not replayed:
            refresh.set_jti()
            refresh.set_iat()
            session.refresh_jti = refresh["jti"]
            session.save(update_fields=["refresh_jti"])
            return _pair(refresh)
    if replayed:
        auth_session_end(session.id)
    raise DomainError(
        "Refresh token is no longer valid: its session ended or it was already used.",
        code="token_not_valid",
        status_code=status.HTTP_401_UNAUTHORIZED,
    )


def auth_logout(*, user: User, raw_refresh: str, access_session_id: str | None) -> None:
    """End the session of the refresh token given (and of the access token the request came
    with, when it is the same user's)."""
    refresh = _valid_refresh(raw_refresh)
    for session_id in {refresh.get(SESSION_CLAIM), access_session_id} - {None}:
        auth_session_end(session_id, user=user)


def auth_session_end(session_id: str, *, user: User | None = None) -> None:
    """Revoke the session (only if it is `user`'s, when given) and close its WebSockets."""
    sessions = AuthSession.objects.filter(pk=session_id, revoked_at__isnull=True)
    if user is not None:
        sessions = sessions.filter(user=user)
    ended = sessions.update(revoked_at=timezone.now())
    if ended:
        realtime.credential_revoked(realtime.credential_group("session", session_id))


def auth_access_session(raw_access: str) -> tuple[int, str] | None:
    """(user id, session id) of a valid access token whose session is live, else None."""
    try:
        access = AccessToken(raw_access)
    except TokenError:
        return None
    session_id = access.get(SESSION_CLAIM)
    if not auth_session_active(session_id):
        return None
    return access.get(jwt_settings.USER_ID_CLAIM), session_id


def auth_sessions_end_all(user: User) -> None:
    """End every live session of the user (a password change), closing their sockets."""
    live = AuthSession.objects.filter(user=user, revoked_at__isnull=True)
    for session_id in list(live.values_list("pk", flat=True)):
        auth_session_end(session_id)


def auth_sessions_purge() -> int:
    """Delete sessions that expired or ended more than a day ago; returns how many."""
    cutoff = timezone.now() - timedelta(days=1)
    deleted, _ = AuthSession.objects.filter(
        models.Q(expires_at__lt=cutoff) | models.Q(revoked_at__lt=cutoff)
    ).delete()
    return deleted


def _pair(refresh: RefreshToken) -> dict:
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _valid_refresh(raw_refresh: str) -> RefreshToken:
    """A refresh token whose signature, type and expiry check out."""
    try:
        return RefreshToken(raw_refresh)
    except TokenError as error:
        raise DomainError(
            str(error), code="token_not_valid", status_code=status.HTTP_401_UNAUTHORIZED
        ) from error


def _live_session_for_update(session_id: str | None, now) -> AuthSession | None:
    if not session_id:
        return None
    return (
        AuthSession.objects.select_for_update()
        .filter(pk=session_id, revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
