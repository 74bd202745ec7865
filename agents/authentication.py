"""API-key authentication: `X-API-Key: <key>` or `Authorization: Bearer <key>`."""

import hashlib

from django.utils import timezone
from rest_framework import authentication, exceptions

from agents.models import ApiKey

KEY_PREFIX = "nxg_"


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
    try:
        key = ApiKey.objects.select_related("owner").get(key_hash=hash_api_key(raw_key))
    except ApiKey.DoesNotExist:
        return None
    if key.revoked_at is not None or not key.owner.is_active:
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
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return key.owner, key

    def authenticate_header(self, request):
        return "Bearer"
