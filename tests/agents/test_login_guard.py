"""One throttle and one lockout in front of every way to log in (REST API, dashboard, admin),
that neither tells which emails have accounts nor lets a stranger lock the operator out."""

import pytest
from django.test import Client

from agents.models import LoginCounter

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/login"
PASSWORD = "pw-12345678"
OPERATOR = "operator@example.com"


@pytest.fixture
def roomy_throttle(settings):
    # Lockout tests make more attempts than the per-minute throttle allows from one address.
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 1000


def _api(client, email, password, ip):
    return client.post(LOGIN, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip)


def _admin(email, password, ip):
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": password})
    return client, response


def _dashboard(email, password, ip):
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/login/", {"email": email, "password": password})
    return client, response


def test_five_failures_lock_the_email_from_that_address_only(api_client, user, roomy_throttle):
    for _ in range(5):
        assert _api(api_client, OPERATOR, "wrong", "203.0.113.9").status_code == 401

    locked = _api(api_client, OPERATOR, PASSWORD, "203.0.113.9")
    elsewhere = _api(api_client, OPERATOR, PASSWORD, "198.51.100.20")

    assert locked.status_code == 423 and locked.json()["code"] == "account_locked"
    assert "locked_until=" in locked.json()["details"][0]["message"]
    # The operator, at their own address, is not locked out by a stranger's guesses.
    assert elsewhere.status_code == 200 and "access" in elsewhere.json()


def test_an_unknown_email_is_answered_exactly_like_a_real_one(api_client, user, roomy_throttle):
    def story(email, ip):
        answers = [_api(api_client, email, "wrong", ip) for _ in range(6)]
        return [(a.status_code, a.json()["code"], a.json()["error"]) for a in answers]

    real = story(OPERATOR, "203.0.113.1")
    unknown = story("nobody@example.com", "203.0.113.2")

    assert real == unknown
    assert [status for status, _, _ in real] == [401] * 5 + [423]


def test_the_table_holds_no_email_or_address_in_clear(api_client, user, roomy_throttle):
    _api(api_client, OPERATOR, "wrong", "203.0.113.77")
    _api(api_client, OPERATOR, PASSWORD, "203.0.113.77")

    stored = " ".join(str(row) for row in LoginCounter.objects.values_list())
    assert LoginCounter.objects.exists()
    assert "operator" not in stored and "203.0.113.77" not in stored


def test_a_lock_earned_on_the_api_holds_on_the_admin_and_the_dashboard(
    api_client, user, roomy_throttle
):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    for _ in range(5):
        _api(api_client, OPERATOR, "wrong", "203.0.113.5")

    admin_client, admin_page = _admin(OPERATOR, PASSWORD, "203.0.113.5")
    dashboard_client, dashboard_page = _dashboard(OPERATOR, PASSWORD, "203.0.113.5")

    assert "Too many failed logins" in admin_page.content.decode()
    assert "Too many failed logins" in dashboard_page.content.decode()
    # No session was opened, so nothing reaches the REST API either.
    assert "_auth_user_id" not in admin_client.session
    assert "_auth_user_id" not in dashboard_client.session
    assert admin_client.get("/api/v1/auth/me").status_code in (401, 403)


def test_admin_failures_count_towards_the_same_lock(api_client, user, roomy_throttle):
    for _ in range(5):
        _admin(OPERATOR, "wrong", "203.0.113.6")

    assert _api(api_client, OPERATOR, PASSWORD, "203.0.113.6").status_code == 423


def test_one_throttle_across_api_dashboard_and_admin(api_client, user):
    ip = "203.0.113.8"
    _api(api_client, "a@example.com", "x", ip)
    _api(api_client, "b@example.com", "x", ip)
    _dashboard("c@example.com", "x", ip)
    _dashboard("d@example.com", "x", ip)
    _admin("e@example.com", "x", ip)

    _, admin_page = _admin(OPERATOR, PASSWORD, ip)
    api_answer = _api(api_client, OPERATOR, PASSWORD, ip)

    assert "Too many login attempts" in admin_page.content.decode()
    assert api_answer.status_code == 429


def test_ipv6_clients_are_counted_by_their_64(api_client, user):
    # One subscriber holds a whole /64: a new address in it per try is still the same client.
    statuses = [
        _api(api_client, f"n{n}@example.com", "x", f"2001:db8:1:2::{n + 1:x}").status_code
        for n in range(6)
    ]
    assert statuses == [401] * 5 + [429]


def test_guessing_from_many_addresses_stops_strangers_but_not_a_known_address(
    api_client, user, settings, roomy_throttle
):
    settings.LOGIN_ACCOUNT_MAX_FAILURES = 10
    assert _api(api_client, OPERATOR, PASSWORD, "198.51.100.1").status_code == 200
    for n in range(10):
        assert _api(api_client, OPERATOR, "wrong", f"203.0.113.{100 + n}").status_code == 401

    stranger = _api(api_client, OPERATOR, PASSWORD, "203.0.113.200")
    known = _api(api_client, OPERATOR, PASSWORD, "198.51.100.1")

    assert stranger.status_code == 423
    assert known.status_code == 200
