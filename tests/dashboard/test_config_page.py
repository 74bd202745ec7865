"""The config page: a form generated from the config's JSON Schema, saved as PUT
agents/{id}/config saves it, with the same per-field messages, and a strategy preview."""

import pytest
from django.urls import reverse

from agents import config as agent_config
from agents.config_form import config_sections

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, user):
    client.force_login(user)
    return client


def form_of(config: dict) -> dict:
    """What a browser posts for the form filled with `config` (the effective config)."""
    data = {}
    for section in config_sections(agent_config.config_json_schema(), config):
        for field in section.fields:
            if field.kind == "bool":
                if field.value:
                    data[field.name] = "on"
            else:
                data[field.name] = field.value
    return data


def defaults() -> dict:
    return form_of(agent_config.effective_config_json({}))


def test_the_form_has_an_input_for_every_setting_of_the_schema(operator, agent):
    body = operator.get(reverse("dashboard-agent-config", args=[agent.pk])).content.decode()

    for name in (
        "stop_loss.default_percentage",
        "take_profit.levels",
        "position_sizing.sizes.small[0]",
        "risk.cooldown_after_stop_losses.count",
        "signals.token_filter_mode",
    ):
        assert f'name="{name}"' in body
    assert 'id="stop-loss-chart"' in body
    assert "dashboard/config.js" in body
    # Each section is titled by its setting's name, not the schema's class name.
    assert "<legend>Stop loss</legend>" in body and "StopLossConfig" not in body


def test_saving_the_defaults_unchanged_stores_no_overrides(operator, agent):
    response = operator.post(reverse("dashboard-agent-config", args=[agent.pk]), defaults())

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.config == {}


def test_saving_stores_what_differs_from_the_defaults(operator, agent):
    data = defaults()
    data["stop_loss.default_percentage"] = "-20"
    data["stop_loss.mode"] = "custom"
    data["stop_loss.trailing_levels"] = "50, 20\n100, 60"
    data["risk.daily_loss_limit_sol"] = "2.5"

    response = operator.post(reverse("dashboard-agent-config", args=[agent.pk]), data)

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.config["stop_loss"] == {
        "default_percentage": "-20",
        "mode": "custom",
        "trailing_levels": [
            {"change": "50", "stop_loss": "20"},
            {"change": "100", "stop_loss": "60"},
        ],
    }
    assert agent.config["risk"] == {"daily_loss_limit_sol": "2.5"}


def test_saving_says_so_on_the_page_it_returns_to(operator, agent):
    data = defaults()
    data["risk.max_open_positions"] = "10"

    response = operator.post(reverse("dashboard-agent-config", args=[agent.pk]), data, follow=True)

    assert response.redirect_chain[-1][1] == 302
    body = response.content.decode()
    assert "Saved the config" in body and 'class="alert success"' in body


def test_bad_values_show_each_fields_message_and_change_nothing(operator, agent):
    agent.config = {"risk": {"max_open_positions": 5}}
    agent.save()
    data = form_of(agent_config.effective_config_json(agent.config))
    data["stop_loss.default_percentage"] = "12"
    data["take_profit.mode"] = "custom"
    data["take_profit.levels"] = "200, 50\n100, 20"
    data["position_sizing.sizes.small[0]"] = "3"

    response = operator.post(reverse("dashboard-agent-config", args=[agent.pk]), data)

    assert response.status_code == 400
    errors = {
        field.name: field.errors
        for section in response.context["sections"]
        for field in section.fields
        if field.errors
    }
    assert errors["stop_loss.default_percentage"] == ["Input should be less than or equal to 0"]
    assert (
        "line 2 target_percent: targets must be strictly ascending" in errors["take_profit.levels"]
    )
    assert errors["position_sizing.sizes.small[0]"] == ["must be [min, max] with min <= max"]
    # What was typed is shown back.
    assert 'value="12"' in response.content.decode()
    agent.refresh_from_db()
    assert agent.config == {"risk": {"max_open_positions": 5}}


def test_the_preview_replays_the_forms_config_without_saving_it(operator, agent):
    data = defaults()
    data["stop_loss.default_percentage"] = "-10"
    data.update(action="preview", buy_sol="1", prices="0.001\n0.0011\n0.00085\n0.0008")

    response = operator.post(reverse("dashboard-agent-config", args=[agent.pk]), data)

    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview["actions"][0]["kind"] == "buy"
    assert preview["final"]["closed"] is True
    assert preview["final"]["close_reason"] == "stop_loss"
    assert 'id="preview-actions"' in response.content.decode()
    agent.refresh_from_db()
    assert agent.config == {}


def test_a_bad_price_path_is_reported_on_the_prices_field(operator, agent):
    data = defaults()
    data.update(action="preview", buy_sol="1", prices="0.001\n-5")

    response = operator.post(reverse("dashboard-agent-config", args=[agent.pk]), data)

    assert response.status_code == 400
    assert "prices[1].price" in response.context["preview_form"].errors["prices"][0]


def test_the_page_stores_what_the_api_stores_for_the_same_config(operator, user, agent, api_client):
    data = defaults()
    data["take_profit.enabled"] = "on"
    data["take_profit.mode"] = "custom"
    data["take_profit.levels"] = "50, 40\n400, 50"
    data["signals.allowed_signal_types"] = "breakout\nvolume"
    operator.post(reverse("dashboard-agent-config", args=[agent.pk]), data)
    agent.refresh_from_db()
    from_page = agent.config
    api_client.force_authenticate(user)

    response = api_client.put(
        f"/api/v1/agents/{agent.pk}/config",
        {
            "take_profit": {
                "enabled": True,
                "mode": "custom",
                "levels": [
                    {"target_percent": "50", "sell_percent": "40"},
                    {"target_percent": "400", "sell_percent": "50"},
                ],
            },
            "signals": {"allowed_signal_types": ["breakout", "volume"]},
        },
        format="json",
    )

    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.config == from_page
