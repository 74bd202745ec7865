"""Every error of the API is JSON in the one shape ({"error", "code", "details"}), never a 500
and never an HTML page: bad JSON nested too deeply, a body over the size limit, an unknown
path, a bad token. Pages outside /api/ keep Django's own error pages."""

import pytest
from rest_framework.test import APIClient

from agents.models import Agent

pytestmark = pytest.mark.django_db

NESTED = "[" * 1000 + "]" * 1000  # 2 KB
ARABIC_ONE = "\u0661"  # an Arabic-Indic digit: Python's int() reads it as 1


@pytest.fixture
def api(user):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == code
    return body


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/agents"])
def test_json_nested_too_deeply_is_a_parse_error(api, path):
    body = _error(api.post(path, NESTED, content_type="application/json"), 400, "parse_error")
    assert "nested too deeply" in body["error"]


def test_a_body_over_the_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = '{"name": "' + "x" * 2000 + '"}'
    body = _error(
        api.post("/api/v1/agents", payload, content_type="application/json"),
        413,
        "request_too_large",
    )
    assert "1000 bytes" in body["error"]
    assert not Agent.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/agents/abc", "/api/v1/no-such-thing"])
def test_an_unknown_api_path_is_json(api, path):
    _error(api.get(path), 404, "not_found")


def test_pages_outside_the_api_keep_their_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_bad_token_says_why_in_words():
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/auth/me", HTTP_AUTHORIZATION="Bearer not-a-token")
    body = _error(response, 401, "token_not_valid")
    assert body["error"] == "Given token not valid for any token type"


def test_an_agent_can_be_created_inactive(api):
    response = api.post("/api/v1/agents", {"name": "Alpha", "is_active": False}, format="json")
    assert response.status_code == 201
    assert Agent.objects.get(pk=response.json()["id"]).is_active is False


def test_too_many_form_fields_is_json(api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    fields = "&".join(f"f{i}=1" for i in range(10))
    response = api.post("/api/v1/agents", fields, content_type="application/x-www-form-urlencoded")
    _error(response, 400, "bad_request")
    assert not Agent.objects.exists()


def test_too_many_query_fields_is_json(api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    _error(
        api.get("/api/v1/trading-signals?" + "&".join(f"f{i}=1" for i in range(10))),
        400,
        "bad_request",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/agents/abc/config",
        "/api/v1/agents/1.5",
        "/api/v1/agents/-1/balances",
        "/api/v1/api-keys/abc",
        "/api/v1/trading-signals/abc",
        f"/api/v1/agents/{ARABIC_ONE}/transactions",
    ],
)
def test_a_non_integer_path_id_is_json_404(api, path):
    _error(api.get(path), 404, "not_found")


def test_a_huge_path_id_is_a_404(api):
    _error(api.get(f"/api/v1/agents/{10**30}/config"), 404, "not_found")
