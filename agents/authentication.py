"""API authentication: API keys (`X-API-Key: <key>` or `Authorization: Bearer <key>`) and the
operator's JWT access tokens, which are good only while their login session lasts."""

import hashlib
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from agents.models import ApiKey
from agents.selectors import SESSION_CLAIM, auth_session_active

KEY_PREFIX = "nxg_"
# How stale a key's last_used_at may get: a minute tells an operator whether a key is in use,
# and a provider posting several signals a second then costs no write per request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_api_key(raw_key: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 is enough (no need for a slow hash).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_from_request(request) -> str | None:
    header = request.META.get("HTTP_X_API_KEY")
    if header:
        return header.strip()
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip().startswith(KEY_PREFIX):
        return value.strip()
    return None


def api_key_lookup(raw_key: str) -> ApiKey | None:
    key = ApiKey.objects.select_related("owner").filter(key_hash=hash_api_key(raw_key)).first()
    if key is None or key.revoked_at is not None or not key.owner.is_active:
        return None
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        raw_key = api_key_from_request(request)
        if raw_key is None:
            return None
        key = api_key_lookup(raw_key)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        _note_use(key)
        return key.owner, key

    def authenticate_header(self, request):
        return "Bearer"


def _note_use(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


class SessionJWTAuthentication(JWTAuthentication):
    """simplejwt's access-token check, plus: the token's login session is still live (not
    logged out, not ended by a replayed refresh token)."""

    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        if not auth_session_active(token.get(SESSION_CLAIM)):
            raise InvalidToken("Token's session has ended: log in again.")
        return token


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema names API-key authentication (registered on import)."""

    target_class = ApiKeyAuthentication
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


class SessionJWTScheme(SimpleJWTScheme):
    """The schema names the session-checked JWT like simplejwt's own (registered on import)."""

    target_class = SessionJWTAuthentication
