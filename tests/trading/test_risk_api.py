"""GET agents/{id}/risk and POST agents/{id}/risk/pauses/{id}/end, and the admin pages that
answer "why did agent X not buy?"."""

from decimal import Decimal

import pytest

from agents.services import agent_create, api_key_create
from tests.trading.risk_support import guarded_agent, losing_close, open_position, signal_for
from trading.models import RiskPause
from trading.risk_services import kill_switch_set

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def loser(market):
    return market.add_token(symbol="RUG", price_sol=D("0.001"), decimals=6, liquidity_sol=D("5000"))


@pytest.fixture
def target(market):
    return market.add_token(symbol="WIF", price_sol=D("0.002"), decimals=6, liquidity_sol=D("5000"))


@pytest.fixture
def paused(localnet, market, user, loser, target, django_capture_on_commit_callbacks):
    """An agent paused by its daily loss limit, found by a signal it then skipped."""
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4", "max_open_positions": 3})
    losing_close(market, agent, wallet, loser)
    open_position(agent, wallet, loser)
    signal_for(user, agent, target, django_capture_on_commit_callbacks)
    return agent


def _risk(api_client, agent, **headers):
    return api_client.get(f"/api/v1/agents/{agent.pk}/risk", **headers)


def test_an_unguarded_agent_may_buy(localnet, api_client, user):
    agent, _ = guarded_agent(user)
    api_client.force_authenticate(user)
    body = _risk(api_client, agent).json()
    assert (body["buys_allowed"], body["sells_allowed"], body["blocked_reason"]) == (
        True,
        True,
        None,
    )
    assert body["active_pauses"] == []
    assert body["guards"] == {
        "max_open_positions": {"limit": 25, "open_positions": 0, "tripped": False}
    }
    assert body["kill_switch"]["mode"] == "off"


def test_the_report_shows_the_active_pause_and_the_guard_state(api_client, user, paused):
    api_client.force_authenticate(user)
    body = _risk(api_client, paused).json()

    assert (body["buys_allowed"], body["blocked_reason"]) == (False, "risk_paused")
    (active,) = body["active_pauses"]
    pause = RiskPause.objects.get(agent=paused)
    assert (active["pause_id"], active["reason"]) == (pause.pk, "daily_loss_limit")
    assert active["until"] == pause.until.isoformat()
    guard = body["guards"]["daily_loss_limit"]
    assert guard["tripped"] is True and guard["limit_sol"] == "0.4"
    assert D(guard["loss_today_sol"]) > D("0.4")
    assert body["guards"]["max_open_positions"]["open_positions"] == 1


def test_an_ended_pause_is_listed_as_recent_not_active(api_client, user, paused):
    api_client.force_authenticate(user)
    pause = RiskPause.objects.get(agent=paused)
    response = api_client.post(f"/api/v1/agents/{paused.pk}/risk/pauses/{pause.pk}/end")
    assert response.status_code == 200
    assert response.json()["ended_at"] is not None

    body = _risk(api_client, paused).json()
    assert body["active_pauses"] == []
    assert [p["pause_id"] for p in body["recent_pauses"]] == [pause.pk]
    assert body["buys_allowed"] is True
    # Ending it twice changes nothing.
    again = api_client.post(f"/api/v1/agents/{paused.pk}/risk/pauses/{pause.pk}/end")
    assert again.json()["ended_at"] == response.json()["ended_at"]


def test_the_kill_switch_is_part_of_the_report(localnet, api_client, user):
    agent, _ = guarded_agent(user)
    kill_switch_set(mode="halt", user=None, note="incident")
    api_client.force_authenticate(user)
    body = _risk(api_client, agent).json()
    assert (body["buys_allowed"], body["sells_allowed"], body["blocked_reason"]) == (
        False,
        False,
        "kill_switch_halt",
    )
    assert body["kill_switch"]["note"] == "incident"


def test_another_users_agent_and_pause_are_404(api_client, other_user, paused):
    api_client.force_authenticate(other_user)
    pause = RiskPause.objects.get(agent=paused)
    assert _risk(api_client, paused).status_code == 404
    response = api_client.post(f"/api/v1/agents/{paused.pk}/risk/pauses/{pause.pk}/end")
    assert response.status_code == 404
    mine = agent_create(owner=other_user, name="Mine")
    response = api_client.post(f"/api/v1/agents/{mine.pk}/risk/pauses/{pause.pk}/end")
    assert response.status_code == 404
    assert RiskPause.objects.get(pk=pause.pk).ended_at is None


def test_an_agents_key_reads_the_report_but_cannot_resume_buys(api_client, user, paused):
    _, key = api_key_create(owner=user, name="reader", scopes=["agents"])
    assert _risk(api_client, paused, HTTP_X_API_KEY=key).status_code == 200
    pause = RiskPause.objects.get(agent=paused)
    response = api_client.post(
        f"/api/v1/agents/{paused.pk}/risk/pauses/{pause.pk}/end", HTTP_X_API_KEY=key
    )
    assert response.status_code == 403
    assert RiskPause.objects.get(pk=pause.pk).ended_at is None


# --- Admin: why did agent X not buy? -------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_user(
        email="ops@example.com", password="pw-12345678", is_staff=True, is_superuser=True
    )
    client.force_login(staff)
    return client


def test_the_admin_lists_each_decision_with_its_reason_and_figures(staff_client, paused):
    page = staff_client.get("/admin/signals_app/signalexecution/", {"q": paused.name})
    assert page.status_code == 200
    text = page.content.decode()
    assert "risk_paused" in text and "daily_loss_limit" in text


def test_the_admin_shows_pauses_and_ends_them(staff_client, paused):
    pause = RiskPause.objects.get(agent=paused)
    listing = staff_client.get("/admin/trading/riskpause/", {"state": "open"})
    assert "daily_loss_limit" in listing.content.decode()
    assert staff_client.get(f"/admin/agents/agent/{paused.pk}/change/").status_code == 200

    staff_client.post(
        "/admin/trading/riskpause/", {"action": "end_pauses", "_selected_action": [pause.pk]}
    )
    pause.refresh_from_db()
    assert pause.ended_at is not None and pause.end_note.startswith("ended by ops@example.com")
