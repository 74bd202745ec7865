"""One trailing-slash rule for every /api/v1 route: none ends in a slash, and the slashed form
of any of them is a JSON 404 that names the route (docs/decisions.md, API routes)."""

import re

import pytest
from django.urls import URLPattern, URLResolver, resolve
from rest_framework.test import APIClient

from nexgent.urls import api_urlpatterns

pytestmark = pytest.mark.django_db

ADDRESS = "So11111111111111111111111111111111111111112"
_CONVERTER = re.compile(r"<(?:(\w+):)?\w+>")
_GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")


def _routes(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def _sample(route: str) -> str:
    """A path the route matches: ids are 1, other path parts an address."""
    path = _GROUP.sub("1", route).lstrip("^").rstrip("$")
    return "/api/v1/" + _CONVERTER.sub(lambda m: "1" if m.group(1) == "int" else ADDRESS, path)


ROUTES = sorted(set(_routes(api_urlpatterns)))


def test_every_api_route_is_walked():
    assert len(ROUTES) > 30
    assert any(route.strip("^$") == "wallets" for route in ROUTES)


@pytest.mark.parametrize("route", ROUTES)
def test_no_route_ends_in_a_slash(route):
    path = _sample(route)
    assert not path.endswith("/"), route
    resolve(path)  # the sample is the route's own


@pytest.mark.parametrize("route", ROUTES)
def test_the_slashed_form_is_a_json_404_naming_the_route(user, route):
    client = APIClient()
    client.force_authenticate(user)
    path = _sample(route)
    for method in ("get", "post"):
        answer = getattr(client, method)(path + "/")
        assert answer.status_code == 404, (method, path)
        assert answer["Content-Type"].startswith("application/json")
        body = answer.json()
        assert body["code"] == "not_found"
        assert f"no trailing slash ({path})" in body["error"]
