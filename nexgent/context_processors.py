"""What every dashboard page shows in its frame."""

from django.utils.functional import SimpleLazyObject

from nexgent.health import notices, readiness


def engine_problems(request) -> dict:
    """The readiness checks that fail (the same as /health/ready) and the dashboard notices that
    apply (the kill switch on, a stale price), for the banner of a logged-in page. Lazy: a page
    that does not show the banner (the admin's, the login) runs no check."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"engine_problems": {}}
    return {
        "engine_problems": SimpleLazyObject(
            lambda: {
                name.replace("_", " ").capitalize(): verdict
                for name, verdict in {**readiness(), **notices()}.items()
                if verdict != "ok"
            }
        )
    }
