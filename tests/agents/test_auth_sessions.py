"""Login sessions: logout ends every token of the login at once, a replayed refresh token ends
its session, and no token is kept anywhere in the database."""

import pytest
from django.db import connection

from agents.models import AuthSession

pytestmark = pytest.mark.django_db
PASSWORD = "pw-12345678"


def _login(api_client, remember_me=False):
    response = api_client.post(
        "/api/v1/auth/login",
        {"email": "operator@example.com", "password": PASSWORD, "remember_me": remember_me},
        format="json",
    )
    assert response.status_code == 200
    return response.json()


def _me(api_client, access):
    return api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def _refresh(api_client, refresh):
    return api_client.post("/api/v1/auth/refresh", {"refresh": refresh}, format="json")


def _logout(api_client, access, refresh):
    return api_client.post(
        "/api/v1/auth/logout",
        {"refresh": refresh},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {access}",
    )


def test_an_access_token_stops_working_at_logout_not_at_expiry(api_client, user):
    tokens = _login(api_client)
    earlier_access = tokens["access"]
    rotated = _refresh(api_client, tokens["refresh"]).json()
    assert _me(api_client, earlier_access).status_code == 200

    assert _logout(api_client, rotated["access"], rotated["refresh"]).status_code == 204

    # Every access token of the login is refused: the one logged out with and the earlier one.
    for access in (rotated["access"], earlier_access):
        refused = _me(api_client, access)
        assert refused.status_code == 401 and refused.json()["code"] == "token_not_valid"
    assert _refresh(api_client, rotated["refresh"]).status_code == 401


def test_logout_leaves_the_operators_other_logins_alone(api_client, user):
    laptop, phone = _login(api_client), _login(api_client)

    _logout(api_client, laptop["access"], laptop["refresh"])

    assert _me(api_client, phone["access"]).status_code == 200


def test_a_replayed_refresh_token_ends_its_session(api_client, user):
    tokens = _login(api_client)
    rotated = _refresh(api_client, tokens["refresh"]).json()

    replay = _refresh(api_client, tokens["refresh"])

    assert replay.status_code == 401 and replay.json()["code"] == "token_not_valid"
    # Whoever holds the newer pair (the thief or the owner) is out too.
    assert _me(api_client, rotated["access"]).status_code == 401
    assert _refresh(api_client, rotated["refresh"]).status_code == 401


def test_a_session_keeps_its_lifetime_from_login_however_often_it_is_refreshed(api_client, user):
    tokens = _login(api_client, remember_me=True)
    session = AuthSession.objects.get()
    for _ in range(3):
        tokens = _refresh(api_client, tokens["refresh"]).json()

    assert AuthSession.objects.get().expires_at == session.expires_at
    assert (session.expires_at - session.created_at).days in (29, 30)


def test_no_token_is_stored_in_any_table(api_client, user):
    tokens = _login(api_client)
    rotated = _refresh(api_client, tokens["refresh"]).json()
    secrets = [tokens["access"], tokens["refresh"], rotated["access"], rotated["refresh"]]
    # The signature is what makes a token usable: it must appear nowhere.
    signatures = [token.rsplit(".", 1)[1] for token in secrets]

    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            dump.extend(str(value) for row in cursor.fetchall() for value in row)
    text = "\n".join(dump)

    assert AuthSession.objects.exists()
    assert not [signature for signature in signatures if signature in text]


def test_a_forged_or_garbled_refresh_token_is_401(api_client, user):
    tokens = _login(api_client)
    header, payload, signature = tokens["refresh"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"

    for bad in (forged, "not-a-token"):
        response = _refresh(api_client, bad)
        assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


def test_ended_sessions_and_idle_counters_are_purged(api_client, user, settings):
    from datetime import timedelta

    from django.utils import timezone

    from agents.models import LoginCounter
    from agents.tasks import auth_records_purge

    kept, ended = _login(api_client), _login(api_client)
    _logout(api_client, ended["access"], ended["refresh"])
    long_ago = timezone.now() - timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS + 1)
    AuthSession.objects.filter(revoked_at__isnull=False).update(revoked_at=long_ago)
    LoginCounter.objects.update(window_started=long_ago)
    LoginCounter.objects.create(key="x" * 64, window_started=long_ago, locked_until=None)

    auth_records_purge()

    assert AuthSession.objects.count() == 1
    assert _me(api_client, kept["access"]).status_code == 200
    assert not LoginCounter.objects.exists()


def test_a_new_password_ends_every_api_login(api_client, user):
    laptop, phone = _login(api_client), _login(api_client)

    user.set_password("a-brand-new-passphrase")
    user.save()

    for tokens in (laptop, phone):
        assert _me(api_client, tokens["access"]).status_code == 401
        assert _refresh(api_client, tokens["refresh"]).status_code == 401


def test_saving_a_user_without_a_new_password_keeps_the_logins(api_client, user):
    tokens = _login(api_client)

    user.first_name = "Ops"
    user.save()

    assert _me(api_client, tokens["access"]).status_code == 200
