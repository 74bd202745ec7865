"""Operator login: tokens, the throttle, refresh, logout, me (the lockout: test_login_guard)."""

import pytest

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/login"


def _login(client, email, password, ip="10.9.8.7"):
    return client.post(LOGIN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def test_login_returns_tokens_that_authenticate(api_client, user):
    tokens = _login(api_client, "operator@example.com", "pw-12345678").json()
    me = api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 200 and me.json()["email"] == "operator@example.com"


def test_wrong_password_is_401_and_unknown_email_too(api_client, user):
    assert _login(api_client, "operator@example.com", "nope").status_code == 401
    unknown = _login(api_client, "nobody@example.com", "nope")
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "invalid_credentials"


def test_login_is_throttled_per_address(api_client, user):
    statuses = [_login(api_client, f"n{n}@example.com", "x").status_code for n in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    throttled = _login(api_client, "operator@example.com", "pw-12345678")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0


def test_a_new_forwarded_for_header_per_request_does_not_escape_the_throttle(api_client, user):
    # Any client can write X-Forwarded-For: the throttle keys on the address the server saw.
    statuses = [
        api_client.post(
            LOGIN,
            {"email": f"n{n}@example.com", "password": "x"},
            format="json",
            REMOTE_ADDR="10.9.8.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(6)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429


def test_bad_login_body_is_400(api_client):
    response = api_client.post(LOGIN, {"email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert {"email", "password"} <= {d["field"] for d in response.json()["details"]}


def test_refresh_then_logout_revokes_the_refresh_token(api_client, user):
    tokens = _login(api_client, "operator@example.com", "pw-12345678").json()
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200 and "access" in refreshed.json()
    new_refresh = refreshed.json()["refresh"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    assert (
        api_client.post("/api/v1/auth/logout", {"refresh": new_refresh}, format="json").status_code
        == 204
    )
    api_client.credentials()
    again = api_client.post("/api/v1/auth/refresh", {"refresh": new_refresh}, format="json")
    assert again.status_code == 401


def test_me_without_credentials_is_401(api_client):
    response = api_client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("scopes", [["signals"], ["full_access"]])
def test_an_api_key_reads_nothing_of_the_operators_account(api_client, user, scopes):
    from agents.services import api_key_create

    _, raw_key = api_key_create(owner=user, name="provider", scopes=scopes)

    response = api_client.get("/api/v1/auth/me", HTTP_X_API_KEY=raw_key)

    assert response.status_code == 403
    assert user.email not in response.content.decode()
