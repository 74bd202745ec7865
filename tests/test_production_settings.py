"""Production behind a TLS proxy (HTTPS=true): Secure cookies, HSTS, HTTP redirected (health
excepted), a content security policy on every page, and the API schema and docs for operators
only."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def behind_tls(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True


def test_plain_http_is_redirected_but_health_probes_are_not(behind_tls):
    client = Client()

    page = client.get("/login/")
    health = client.get("/health/live")

    assert page.status_code == 301 and page["Location"].startswith("https://")
    assert health.status_code == 200


def test_https_answers_carry_hsts_and_secure_cookies(behind_tls, user):
    client = Client()
    response = client.post("/login/", {"email": user.email, "password": "pw-12345678"}, secure=True)

    assert response.status_code == 302
    assert "max-age=31536000" in response["Strict-Transport-Security"]
    assert response.cookies["sessionid"]["secure"] and response.cookies["sessionid"]["httponly"]
    assert response.cookies["csrftoken"]["secure"]


@pytest.mark.parametrize("path", ["/login/", "/admin/login/", "/health"])
def test_every_page_has_a_content_security_policy(client, path):
    policy = client.get(path)["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_the_schema_is_not_public(client):
    response = client.get("/api/schema/")

    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("not_authenticated", "permission_denied")


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs/?script="])
def test_the_docs_send_a_logged_out_visitor_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_an_operator_reads_the_schema_and_docs(client, user):
    client.force_login(user)

    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200 and b"/api/v1/trading-signals" in schema.content
    assert docs.status_code == 200 and b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()


def test_check_deploy_is_clean_behind_tls():
    """`manage.py check --deploy` with the documented production settings (docs/security.md):
    no warning at all, the schema's own included."""
    import os
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "DEBUG": "false",
        "HTTPS": "true",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "trade.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://trade.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
