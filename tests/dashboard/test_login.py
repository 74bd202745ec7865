import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "pw-12345678"


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_login_page_renders_a_csrf_protected_email_form(client):
    response = client.get(reverse("dashboard-login"))

    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="email"' in body
    assert 'type="password"' in body
    assert "csrfmiddlewaretoken" in body


def test_bad_password_shows_an_error_and_stays_logged_out(client, user):
    response = client.post(
        reverse("dashboard-login"), {"email": user.email, "password": "wrong-password"}
    )

    assert response.status_code == 200
    assert "Invalid email or password." in response.content.decode()
    assert not logged_in(client)


def test_unknown_email_gets_the_same_error(client, user):
    response = client.post(
        reverse("dashboard-login"), {"email": "nobody@example.com", "password": PASSWORD}
    )

    assert "Invalid email or password." in response.content.decode()
    assert not logged_in(client)


def test_good_login_redirects_home(client, user):
    response = client.post(reverse("dashboard-login"), {"email": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("dashboard-home")
    assert logged_in(client)


def test_login_matches_the_email_case_insensitively(client, user):
    response = client.post(
        reverse("dashboard-login"), {"email": "Operator@Example.COM", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert logged_in(client)


def test_login_follows_a_local_next_but_not_a_foreign_one(client, user):
    agent_page = "/agents/1/"
    local = client.post(
        reverse("dashboard-login"), {"email": user.email, "password": PASSWORD, "next": agent_page}
    )
    client.logout()
    foreign = client.post(
        reverse("dashboard-login"),
        {"email": user.email, "password": PASSWORD, "next": "https://evil.example/"},
    )

    assert local.url == agent_page
    assert foreign.url == reverse("dashboard-home")


def test_repeated_bad_passwords_lock_this_address_out_even_with_the_right_password(
    client, user, settings
):
    settings.LOGIN_ATTEMPTS_PER_MINUTE = 1000  # the lockout, not the throttle, is under test
    for _ in range(5):
        client.post(reverse("dashboard-login"), {"email": user.email, "password": "wrong"})

    response = client.post(reverse("dashboard-login"), {"email": user.email, "password": PASSWORD})

    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)


def test_too_many_attempts_from_one_address_are_throttled(client, user):
    for n in range(5):
        client.post(reverse("dashboard-login"), {"email": f"n{n}@example.com", "password": "x"})

    response = client.post(reverse("dashboard-login"), {"email": user.email, "password": PASSWORD})

    assert "Too many login attempts" in response.content.decode()
    assert not logged_in(client)


def test_the_form_enforces_csrf(user):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("dashboard-login"), {"email": user.email, "password": PASSWORD})

    assert response.status_code == 403
    assert "_auth_user_id" not in strict.session


def test_logout_is_post_only_and_ends_the_session(client, user):
    client.force_login(user)

    assert client.get(reverse("dashboard-logout")).status_code == 405
    assert logged_in(client)

    response = client.post(reverse("dashboard-logout"))

    assert response.status_code == 302
    assert response.url == reverse("dashboard-login")
    assert not logged_in(client)
