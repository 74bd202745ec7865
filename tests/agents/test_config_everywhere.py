"""Every way an agent's config is saved goes through the one schema: the API (tested in
test_agents_api), the admin's form, `full_clean`, and a plain `save()` from a shell. A config
the engine cannot read never reaches the table."""

import pytest
from django.core.exceptions import ValidationError

from agents.models import Agent
from agents.services import agent_create

pytestmark = pytest.mark.django_db

BAD = {"stop_loss": 5}  # a section that is not an object


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        email="ops@example.com", password="pw-12345678", is_staff=True, is_superuser=True
    )


def _stored_config(agent) -> dict:
    return Agent.objects.values_list("config", flat=True).get(pk=agent.pk)


def test_a_shell_save_of_a_bad_config_is_refused_and_writes_nothing(agent):
    agent.config = BAD

    with pytest.raises(ValidationError) as refused:
        agent.save()

    assert list(refused.value.message_dict) == ["config"]
    assert "stop_loss" in refused.value.message_dict["config"][0]
    assert _stored_config(agent) == {}


def test_a_save_that_leaves_the_config_alone_does_not_read_it(agent):
    Agent.objects.filter(pk=agent.pk).update(config=BAD)  # past every check, as raw SQL would
    agent.refresh_from_db()
    agent.name = "Renamed"

    agent.save(update_fields=["name"])

    assert Agent.objects.get(pk=agent.pk).name == "Renamed"


def test_creating_an_agent_with_a_bad_config_is_refused(user):
    with pytest.raises(ValidationError, match="stop_loss"):
        agent_create(owner=user, name="Gamma", config=BAD)
    assert not Agent.objects.filter(name="Gamma").exists()


def test_a_good_config_saves(agent):
    agent.config = {"stop_loss": {"default_percentage": "-20"}}
    agent.save()
    assert _stored_config(agent) == {"stop_loss": {"default_percentage": "-20"}}


def _inline_management(page) -> dict:
    """The management fields of the change page's inlines, as the browser would post them."""
    fields = {}
    for inline in page.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            value = management[name].value()
            fields[f"{management.prefix}-{name}"] = "" if value is None else value
    return fields


def test_the_admin_form_names_the_bad_field_and_changes_nothing(client, staff, agent):
    client.force_login(staff)
    url = f"/admin/agents/agent/{agent.pk}/change/"
    form = {
        **_inline_management(client.get(url)),
        "owner": agent.owner_id,
        "name": agent.name,
        "trading_mode": agent.trading_mode,
        "automated_trading_simulation": "on",
        "config": '{"stop_loss": 5}',
        "is_active": "on",
    }

    page = client.post(url, form)

    assert page.status_code == 200  # the form again, with its errors
    errors = page.context["adminform"].form.errors
    assert "config" in errors and "stop_loss" in errors["config"][0]
    assert _stored_config(agent) == {}

    page = client.post(url, {**form, "config": '{"stop_loss": {"default_percentage": "-20"}}'})

    assert page.status_code == 302
    assert _stored_config(agent) == {"stop_loss": {"default_percentage": "-20"}}
