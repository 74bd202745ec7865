"""The model backend behind the login guard: every authenticate() with a password (REST login,
dashboard, admin, test client) passes the guard first and reports its outcome to it."""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from agents import login_guard

REFUSAL_ATTRIBUTE = "login_refusal"


class GuardedModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        email = str(username).strip().lower()
        address = login_guard.client_address(request)
        refusal = login_guard.login_refusal(email, address)
        if refusal is not None:
            # authenticate() turns PermissionDenied into "no user"; the caller reads why here.
            if request is not None:
                setattr(request, REFUSAL_ATTRIBUTE, refusal)
            raise PermissionDenied(refusal.message)
        # ModelBackend hashes the password for an unknown email too, so both take as long.
        user = super().authenticate(request, username=email, password=password, **kwargs)
        if user is None:
            login_guard.login_failed(email, address)
        else:
            login_guard.login_succeeded(email, address)
        return user


def login_refusal_of(request) -> login_guard.LoginRefusal | None:
    """Why the guard refused this request's last authenticate(), if it did."""
    return getattr(request, REFUSAL_ATTRIBUTE, None)
