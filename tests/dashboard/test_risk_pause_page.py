"""A risk guard's pause on the agent page, and its owner lifting it from the dashboard (as
POST agents/{id}/risk/pauses/{pid}/end does), without the API or the admin."""

import pytest
from django.urls import reverse

from tests.dashboard.factories import make_agent, make_risk_pause
from trading.models import RiskPause

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, user):
    client.force_login(user)
    return client


def end_url(pause):
    return reverse("dashboard-risk-pause-end", args=[pause.agent_id, pause.pk])


def test_the_agent_page_shows_an_active_pause_with_the_way_to_lift_it(operator, agent):
    pause = make_risk_pause(agent, reason="daily_loss_limit")
    make_risk_pause(agent, reason="max_drawdown", ended=True)

    body = operator.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()

    assert f'id="risk-pause-{pause.pk}"' in body
    assert "paused by the daily loss limit guard" in body
    assert end_url(pause) in body
    assert "max drawdown" not in body


def test_an_agent_without_pauses_shows_none(operator, agent):
    body = operator.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()

    assert "risk-pause-" not in body


def test_lifting_asks_first_then_ends_the_pause_and_says_so(operator, agent, user):
    pause = make_risk_pause(agent, reason="max_drawdown", hours=0)

    confirm = operator.get(end_url(pause))
    assert confirm.status_code == 200 and 'id="confirm-resume"' in confirm.content.decode()
    RiskPause.objects.get(pk=pause.pk, ended_at__isnull=True)

    response = operator.post(end_url(pause), follow=True)

    pause.refresh_from_db()
    assert pause.ended_at is not None and pause.end_note == f"ended by {user.email}"
    assert response.redirect_chain[-1][0] == reverse("dashboard-agent", args=[agent.pk])
    body = response.content.decode()
    assert "Buying resumed: the max drawdown pause is ended." in body
    assert "risk-pause-" not in body


def test_a_pause_already_over_is_left_as_it_was(operator, agent):
    pause = make_risk_pause(agent, ended=True)
    ended_at = pause.ended_at

    response = operator.post(end_url(pause), follow=True)

    pause.refresh_from_db()
    assert pause.ended_at == ended_at
    assert "already over" in response.content.decode()


def test_another_users_pause_is_404(operator, other_user):
    pause = make_risk_pause(make_agent(other_user, name="Theirs"))

    assert operator.get(end_url(pause)).status_code == 404
    assert operator.post(end_url(pause)).status_code == 404
    assert RiskPause.objects.get(pk=pause.pk).ended_at is None


def test_lifting_needs_the_csrf_token(user, agent):
    from django.test import Client

    pause = make_risk_pause(agent)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    assert client.post(end_url(pause)).status_code == 403
    assert RiskPause.objects.get(pk=pause.pk).ended_at is None
