"""Health and metrics endpoints."""

import pytest

pytestmark = pytest.mark.django_db


def test_health_endpoints_need_no_auth(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok"}


def test_metrics_from_an_allowed_network(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert b"django_http_requests" in response.content


def test_metrics_refused_from_elsewhere_without_a_login(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


def test_metrics_allowed_for_staff_from_anywhere(client, django_user_model):
    staff = django_user_model.objects.create_user(
        email="ops@example.com", password="x", is_staff=True
    )
    client.force_login(staff)
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_openapi_schema_and_docs_are_served(client, user):
    client.force_login(user)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/trading-signals" in schema.content
    assert client.get("/api/docs/").status_code == 200
