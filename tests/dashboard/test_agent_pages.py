"""The agent management pages: a new agent, its settings (rename, automated trading, mode,
delete) and the operator's API keys, each written through agents.services."""

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Agent, ApiKey
from tests.dashboard.factories import make_agent

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, user):
    client.force_login(user)
    return client


def test_new_agent_is_created_and_opens_its_page(operator, user):
    response = operator.post(
        reverse("dashboard-agent-new"), {"name": "Scout", "trading_mode": "simulation"}
    )

    agent = Agent.objects.get(owner=user, name="Scout")
    assert response.status_code == 302
    assert response.url == reverse("dashboard-agent", args=[agent.pk])
    assert agent.wallets.filter(mode="simulation").exists()


def test_a_bad_name_shows_the_fields_message_and_creates_nothing(operator):
    response = operator.post(
        reverse("dashboard-agent-new"), {"name": "123", "trading_mode": "simulation"}
    )

    assert response.status_code == 400
    assert "must contain a letter" in response.content.decode()
    assert response.context["form"].errors["name"]
    assert not Agent.objects.exists()


@pytest.mark.parametrize(
    ("name", "with_agent"),
    [
        ("dashboard-agent-new", False),
        ("dashboard-agent-settings", True),
        ("dashboard-agent-config", True),
        ("dashboard-agent-wallet", True),
        ("dashboard-api-keys", False),
        ("dashboard-signals", False),
        ("dashboard-system", False),
    ],
)
def test_anonymous_visitors_are_sent_to_login(client, agent, name, with_agent):
    url = reverse(name, args=[agent.pk] if with_agent else [])

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse('dashboard-login')}?next={url}"


def test_pages_of_another_users_agent_are_404(operator, other_user):
    theirs = make_agent(other_user, name="Theirs")

    for name in ("dashboard-agent-settings", "dashboard-agent-config", "dashboard-agent-wallet"):
        assert operator.get(reverse(name, args=[theirs.pk])).status_code == 404
    response = operator.post(reverse("dashboard-agent-rename", args=[theirs.pk]), {"name": "Mine"})
    assert response.status_code == 404
    response = operator.post(reverse("dashboard-agent-delete", args=[theirs.pk]), {"confirm": "1"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


def test_posts_need_the_csrf_token(user, agent):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post(reverse("dashboard-agent-rename", args=[agent.pk]), {"name": "Renamed"})

    assert response.status_code == 403
    agent.refresh_from_db()
    assert agent.name == "Alpha"


def test_settings_page_renames_the_agent(operator, agent):
    assert operator.get(reverse("dashboard-agent-settings", args=[agent.pk])).status_code == 200

    response = operator.post(reverse("dashboard-agent-rename", args=[agent.pk]), {"name": "Beta"})

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.name == "Beta"


def test_a_too_short_name_is_refused_with_its_message(operator, agent):
    response = operator.post(reverse("dashboard-agent-rename", args=[agent.pk]), {"name": "ab"})

    assert response.status_code == 400
    assert "at least 3 characters" in response.content.decode()
    agent.refresh_from_db()
    assert agent.name == "Alpha"


def test_automated_trading_pauses_and_resumes_per_mode(operator, agent):
    url = reverse("dashboard-agent-automation", args=[agent.pk])

    operator.post(url, {"mode": "simulation"})
    agent.refresh_from_db()
    assert agent.automated_trading_simulation is False

    operator.post(url, {"mode": "live", "on": "1"})
    agent.refresh_from_db()
    assert agent.automated_trading_live is True
    assert agent.automated_trading_simulation is False


def test_switching_the_mode_asks_to_confirm_first(operator, agent):
    url = reverse("dashboard-agent-mode", args=[agent.pk])

    asked = operator.post(url, {"trading_mode": "live"})
    agent.refresh_from_db()
    assert asked.status_code == 200
    assert 'name="confirm"' in asked.content.decode()
    assert agent.trading_mode == "simulation"

    done = operator.post(url, {"trading_mode": "live", "confirm": "1"})
    agent.refresh_from_db()
    assert done.status_code == 302
    assert agent.trading_mode == "live"


def test_an_unknown_mode_changes_nothing(operator, agent):
    response = operator.post(
        reverse("dashboard-agent-mode", args=[agent.pk]), {"trading_mode": "yolo", "confirm": "1"}
    )

    assert response.status_code == 400
    agent.refresh_from_db()
    assert agent.trading_mode == "simulation"


def test_delete_asks_to_confirm_then_deletes(operator, agent):
    url = reverse("dashboard-agent-delete", args=[agent.pk])

    assert operator.post(url).status_code == 200
    assert Agent.objects.filter(pk=agent.pk).exists()

    response = operator.post(url, {"confirm": "1"})
    assert response.status_code == 302
    assert not Agent.objects.filter(pk=agent.pk).exists()


def test_api_key_is_shown_once_and_listed(operator, user):
    response = operator.post(
        reverse("dashboard-api-keys"), {"name": "provider", "scopes": ["signals", "positions"]}
    )

    key = ApiKey.objects.get(owner=user)
    body = response.content.decode()
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    assert response.context["raw_key"] in body
    assert key.scopes == ["positions", "signals"]
    listing = operator.get(reverse("dashboard-api-keys")).content.decode()
    assert key.prefix in listing
    assert response.context["raw_key"] not in listing


def test_api_key_without_scopes_is_refused(operator):
    response = operator.post(reverse("dashboard-api-keys"), {"name": "provider"})

    assert response.status_code == 400
    assert response.context["form"].errors["scopes"]
    assert not ApiKey.objects.exists()


def test_api_key_is_revoked_after_confirming(operator, user, other_user):
    from agents.services import api_key_create

    key, _ = api_key_create(owner=user, name="old", scopes=["signals"])
    theirs, _ = api_key_create(owner=other_user, name="theirs", scopes=["signals"])
    url = reverse("dashboard-api-key-revoke", args=[key.pk])

    assert operator.post(url).status_code == 200
    assert operator.post(url, {"confirm": "1"}).status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    response = operator.post(
        reverse("dashboard-api-key-revoke", args=[theirs.pk]), {"confirm": "1"}
    )
    assert response.status_code == 404


def test_nav_links_every_page(operator):
    body = operator.get(reverse("dashboard-home")).content.decode()

    for name in ("dashboard-signals", "dashboard-api-keys", "dashboard-system", "api-docs"):
        assert f'href="{reverse(name)}"' in body
    assert 'href="/admin/"' in body
