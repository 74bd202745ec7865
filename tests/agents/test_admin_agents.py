"""The admin goes through the same paths as the API: an agent created there gets its
simulation wallet and can trade; a wallet cannot be added from an empty read-only form."""

import pytest

from agents.models import Agent
from wallets.models import AgentWallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    admin = django_user_model.objects.create_user(
        email="ops@example.com", password="pw-12345678", is_staff=True, is_superuser=True
    )
    client.force_login(admin)
    return admin


def test_an_agent_added_in_the_admin_gets_its_simulation_wallet(client, staff, user):
    page = client.post("/admin/agents/agent/add/", _agent_form(user))

    assert page.status_code == 302
    agent = Agent.objects.get(name="Admin Made")
    assert list(agent.wallets.values_list("mode", flat=True)) == ["simulation"]


def test_a_wallet_cannot_be_added_from_the_admin(client, staff):
    assert client.get("/admin/wallets/agentwallet/add/").status_code == 403
    assert client.post("/admin/wallets/agentwallet/add/", {}).status_code == 403
    assert not AgentWallet.objects.exists()


def _agent_form(user, **overrides):
    return {
        "owner": user.pk,
        "name": "Admin Made",
        "trading_mode": "simulation",
        "automated_trading_simulation": "on",
        "config": "{}",
        "is_active": "on",
        "risk_pauses-TOTAL_FORMS": "0",
        "risk_pauses-INITIAL_FORMS": "0",
        **overrides,
    }


def test_an_admin_edit_is_validated_like_the_api_and_changes_nothing_when_bad(client, staff, user):
    from agents.services import agent_create

    agent = agent_create(owner=user, name="Steady")
    page = client.post(
        f"/admin/agents/agent/{agent.pk}/change/",
        _agent_form(user, name="Steady", config='{"stop_loss": 5}'),
    )

    assert page.status_code == 200 and "stop_loss" in page.content.decode()
    agent.refresh_from_db()
    assert agent.config == {}


def test_the_pause_action_pauses_through_the_service(client, staff, user):
    from agents.services import agent_create

    agent = agent_create(owner=user, name="Busy", automated_trading_live=True)
    before = agent.updated_at

    client.post(
        "/admin/agents/agent/",
        {"action": "pause_automation", "_selected_action": [agent.pk]},
    )

    agent.refresh_from_db()
    assert not agent.automated_trading_simulation and not agent.automated_trading_live
    assert agent.updated_at > before


def test_the_admin_refuses_a_name_the_api_refuses(client, staff, user):
    page = client.post("/admin/agents/agent/add/", _agent_form(user, name="123"))

    assert page.status_code == 200 and "must contain a letter" in page.content.decode()
    assert not Agent.objects.filter(name="123").exists()
