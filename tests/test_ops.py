"""Health and metrics endpoints."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from prices.selectors import LAST_TICK_KEY, TickRecord
from signals_app.models import TradingSignal
from signals_app.services import signal_create
from signals_app.tasks import signals_resume
from tests.localnet.support import WSOL
from trading.tasks import price_poll

pytestmark = pytest.mark.django_db


def test_health_endpoints_need_no_auth(localnet, client):
    price_poll()  # the engine's tick has run: nothing is tracked, nothing is late
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "ok",
        "cache": "ok",
        "tick": "ok",
        "signals": "ok",
        "market_data": "ok",
    }


def _not_ready(client, check: str) -> str:
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready"
    assert [name for name, verdict in body["checks"].items() if verdict != "ok"] == [check]
    return body["checks"][check]


def test_not_ready_before_the_first_tick(client):
    assert _not_ready(client, "tick") == "no price tick has run yet"


def test_not_ready_while_a_data_source_keeps_failing(localnet, market, client):
    from nexgent.http import ExternalServiceError
    from prices import clients

    price_poll()
    market.inject_fault("hermes", status=500, count=100)
    for _ in range(3):  # three calls, each retried by the client, each failing
        with pytest.raises(ExternalServiceError):
            clients.hermes_sol_usd()

    verdict = _not_ready(client, "market_data")
    assert verdict.startswith("hermes failing (3 in a row")


def test_not_ready_when_the_tick_is_late(localnet, client, settings):
    settings.HEALTH_TICK_LATE_SECONDS = 30
    price_poll()
    late = datetime.now(UTC) - timedelta(seconds=45)
    cache.set(LAST_TICK_KEY, TickRecord(late, 0, 0))

    verdict = _not_ready(client, "tick")
    # Seconds pass between the record and the check: 45 or a little more, never less.
    waited = int(re.fullmatch(r"the last price tick finished (\d+) s ago", verdict).group(1))
    assert 45 <= waited < 60


def test_not_ready_while_tracked_tokens_have_no_fresh_price(localnet, client):
    price_poll()
    cache.set(LAST_TICK_KEY, TickRecord(datetime.now(UTC), 2, 5))

    assert "2 of 5 tracked tokens had no fresh price" in _not_ready(client, "tick")


def test_not_ready_while_a_signal_waits_past_the_resume_sweep(localnet, client, user, settings):
    settings.SIGNAL_RESUME_AFTER_SECONDS = 15
    settings.SIGNAL_RESUME_INTERVAL_SECONDS = 10
    price_poll()
    signal, _ = signal_create(owner=user, token_address=WSOL, signal_type="BUY", signal_strength=3)
    TradingSignal.objects.filter(pk=signal.pk).update(
        created_at=timezone.now() - timedelta(seconds=40)
    )

    assert _not_ready(client, "signals") == "1 signal(s) not fanned out after more than 35 s"

    signals_resume()  # the sweep catches up: the signal is decided (no agents to buy)

    assert client.get("/health/ready").status_code == 200


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


def test_the_dashboard_shows_what_readiness_says_is_wrong(localnet, client, user):
    client.force_login(user)
    cache.set(LAST_TICK_KEY, TickRecord(datetime.now(UTC) - timedelta(seconds=300), 0, 0))

    late = client.get("/").content.decode()
    price_poll()  # a tick on time: the banner goes away
    healthy = client.get("/").content.decode()

    assert "The engine is not working normally" in late
    assert "Tick: the last price tick finished 300 s ago" in late
    assert "engine-problems" not in healthy


def test_every_beat_entry_names_a_registered_task():
    from django.conf import settings

    from nexgent.celery import app

    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert "signals_app.tasks.strategist_cycles_dispatch" in names
    assert sorted(name for name in names if name not in app.tasks) == []
