"""API-key scopes. A logged-in operator (JWT or session) has every scope on their own objects;
an API key has only the scopes it was created with."""

from rest_framework.permissions import BasePermission

from agents.models import ApiKey

READ_METHODS = ("GET", "HEAD", "OPTIONS")


def scoped(scope: str, *, write_scope: str | None = None) -> type[BasePermission]:
    """Permission class requiring `scope` to read and `write_scope` (default: scope) to write."""

    class HasScope(BasePermission):
        message = f"This API key lacks the '{scope}' scope."

        def has_permission(self, request, view):
            if not (request.user and request.user.is_authenticated):
                return False
            key = request.auth
            if not isinstance(key, ApiKey):
                return True
            needed = scope if request.method in READ_METHODS else (write_scope or scope)
            self.message = f"This API key lacks the '{needed}' scope."
            return key.has_scope(needed)

    HasScope.__name__ = f"HasScope_{scope}"
    return HasScope


class NoApiKeys(BasePermission):
    """Operator-only endpoints (managing keys and wallets) refuse API keys outright."""

    message = "This endpoint needs an operator login, not an API key."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) and not isinstance(
            request.auth, ApiKey
        )
