"""Agents, their config, ledger endpoints and API keys over REST: ownership, scopes, errors."""

from decimal import Decimal

import pytest

from agents.models import Agent
from agents.services import agent_create, api_key_create
from nexgent import money
from trading.models import Balance, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_create_agent_makes_its_simulation_wallet(operator, user):
    response = operator.post(
        "/api/v1/agents", {"name": "Scalper", "trading_mode": "simulation"}, format="json"
    )
    assert response.status_code == 201, response.json()
    agent = Agent.objects.get(pk=response.json()["id"])
    assert agent.owner == user
    assert list(agent.wallets.values_list("mode", flat=True)) == ["simulation"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "ab"}, "name"),
        ({"name": "x" * 51}, "name"),
        ({"name": "Fine", "trading_mode": "paper"}, "trading_mode"),
    ],
)
def test_bad_agent_is_a_400_naming_the_field(operator, body, field):
    response = operator.post("/api/v1/agents", body, format="json")
    assert response.status_code == 400
    assert field in [d["field"] for d in response.json()["details"]]
    assert Agent.objects.count() == 0


def test_someone_elses_agent_is_404_everywhere(operator, other_user):
    theirs = agent_create(owner=other_user, name="Theirs")
    for path in ("", "/config", "/balances", "/transactions", "/positions", "/closed-trades"):
        assert operator.get(f"/api/v1/agents/{theirs.pk}{path}").status_code == 404, path
    assert (
        operator.patch(f"/api/v1/agents/{theirs.pk}/config", {}, format="json").status_code == 404
    )


def test_config_get_returns_defaults_with_decimals_as_strings(operator, agent):
    config = operator.get(f"/api/v1/agents/{agent.pk}/config").json()
    assert config["stop_loss"]["default_percentage"] == "-32"
    assert config["purchase_limits"]["max_price_impact"] == "0.05"
    assert config["dca"]["enabled"] is False


def test_config_patch_deep_merges_and_keeps_other_sections(operator, agent):
    operator.patch(
        f"/api/v1/agents/{agent.pk}/config", {"stop_loss": {"mode": "zones"}}, format="json"
    )
    response = operator.patch(
        f"/api/v1/agents/{agent.pk}/config",
        {"stop_loss": {"default_percentage": -20}},
        format="json",
    )
    assert response.status_code == 200
    stop_loss = response.json()["stop_loss"]
    assert (stop_loss["mode"], stop_loss["default_percentage"]) == ("zones", "-20")
    agent.refresh_from_db()
    assert agent.config == {"stop_loss": {"mode": "zones", "default_percentage": "-20"}}


def test_config_patch_null_resets_and_put_empty_resets_everything(operator, agent):
    operator.patch(
        f"/api/v1/agents/{agent.pk}/config",
        {"stop_loss": {"default_percentage": -20}},
        format="json",
    )
    reset = operator.patch(
        f"/api/v1/agents/{agent.pk}/config",
        {"stop_loss": {"default_percentage": None}},
        format="json",
    )
    assert reset.json()["stop_loss"]["default_percentage"] == "-32"
    operator.patch(f"/api/v1/agents/{agent.pk}/config", {"dca": {"enabled": True}}, format="json")
    assert operator.put(f"/api/v1/agents/{agent.pk}/config", {}, format="json").status_code == 200
    agent.refresh_from_db()
    assert agent.config == {}


def test_invalid_config_names_every_bad_field_and_changes_nothing(operator, agent):
    operator.patch(
        f"/api/v1/agents/{agent.pk}/config", {"signals": {"min_score": 3}}, format="json"
    )
    response = operator.patch(
        f"/api/v1/agents/{agent.pk}/config",
        {
            "stop_loss": {"default_percentage": 5},
            "signals": {"min_score": 9},
            "dca": {"max_dca_count": 0},
        },
        format="json",
    )
    assert response.status_code == 400
    fields = {d["field"] for d in response.json()["details"]}
    assert {"stop_loss.default_percentage", "signals.min_score", "dca.max_dca_count"} <= fields
    agent.refresh_from_db()
    assert agent.config == {"signals": {"min_score": 3}}


def test_config_keeps_every_digit_of_a_json_number(operator, agent):
    # Raw JSON text: a Python float could not even hold this number.
    response = operator.patch(
        f"/api/v1/agents/{agent.pk}/config",
        data='{"purchase_limits": {"max_purchase_per_token": 1.123456789123456789}}',
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["purchase_limits"]["max_purchase_per_token"] == "1.123456789123456789"


def test_deposit_and_withdraw_virtual_sol_exactly(operator, agent, wallet):
    url = f"/api/v1/agents/{agent.pk}/transactions"
    assert (
        operator.post(
            url, {"type": "DEPOSIT", "amount": "2.000000000000000001"}, format="json"
        ).status_code
        == 201
    )
    assert (
        operator.post(url, {"type": "WITHDRAWAL", "amount": "0.5"}, format="json").status_code
        == 201
    )
    balance = Balance.objects.get(wallet=wallet, token_address=money.WSOL_MINT)
    assert balance.amount == Decimal("1.500000000000000001")
    balances = operator.get(f"/api/v1/agents/{agent.pk}/balances").json()["balances"]
    assert balances[0]["amount"] == "1.500000000000000001"


def test_overdrawing_is_refused_and_writes_nothing(operator, agent, wallet):
    url = f"/api/v1/agents/{agent.pk}/transactions"
    operator.post(url, {"type": "DEPOSIT", "amount": "1"}, format="json")
    response = operator.post(url, {"type": "WITHDRAWAL", "amount": "1.000000001"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_balance"
    assert Transaction.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [{"type": "DEPOSIT", "amount": "-1"}, {"type": "SWAP", "amount": "1"}, {"type": "DEPOSIT"}],
)
def test_bad_transfer_is_a_400(operator, agent, wallet, body):
    response = operator.post(f"/api/v1/agents/{agent.pk}/transactions", body, format="json")
    assert response.status_code == 400
    assert Transaction.objects.count() == 0


def test_transactions_limit_is_bounded(operator, agent, wallet):
    assert operator.get(f"/api/v1/agents/{agent.pk}/transactions?limit=1001").status_code == 400
    assert operator.get(f"/api/v1/agents/{agent.pk}/transactions?limit=x").status_code == 400
    assert operator.get(f"/api/v1/agents/{agent.pk}/transactions?limit=1000").status_code == 200


def test_api_key_is_shown_once_and_stored_hashed(operator, api_client):
    response = operator.post(
        "/api/v1/api-keys", {"name": "bot", "scopes": ["signals", "positions"]}, format="json"
    )
    assert response.status_code == 201
    raw = response.json()["key"]
    listed = operator.get("/api/v1/api-keys").json()
    assert all("key" not in row for row in listed) and raw not in str(listed)
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/trading-signals", HTTP_X_API_KEY=raw).status_code == 200


def test_api_key_with_unknown_scope_is_a_400(operator):
    response = operator.post("/api/v1/api-keys", {"name": "bot", "scopes": ["root"]}, format="json")
    assert response.status_code == 400
    assert "scopes" in [d["field"].split("[")[0] for d in response.json()["details"]]


def test_api_keys_cannot_manage_api_keys(api_client, user):
    _, raw = api_key_create(owner=user, name="all", scopes=["full_access"])
    response = api_client.post(
        "/api/v1/api-keys", {"name": "x", "scopes": ["signals"]}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 403


def test_revoked_key_stops_working(operator, api_client, user):
    key, raw = api_key_create(owner=user, name="bot", scopes=["signals"])
    assert operator.delete(f"/api/v1/api-keys/{key.pk}").status_code == 204
    api_client.force_authenticate(None)
    assert api_client.get("/api/v1/trading-signals", HTTP_X_API_KEY=raw).status_code == 401


def test_positions_scope_reads_positions_but_cannot_close(api_client, user, agent):
    _, raw = api_key_create(owner=user, name="reader", scopes=["positions"])
    assert (
        api_client.get(f"/api/v1/agents/{agent.pk}/positions", HTTP_X_API_KEY=raw).status_code
        == 200
    )
    assert (
        api_client.get(f"/api/v1/agents/{agent.pk}/balances", HTTP_X_API_KEY=raw).status_code == 403
    )
    response = api_client.post(f"/api/v1/agents/{agent.pk}/positions/1/close", HTTP_X_API_KEY=raw)
    assert response.status_code == 403


def test_config_json_schema_is_served_for_forms(operator):
    schema = operator.get("/api/v1/agents/config-schema").json()
    assert {"stop_loss", "take_profit", "dca", "risk"} <= set(schema["properties"])


def test_a_bytes_codec_charset_is_refused(operator, agent):
    response = operator.patch(
        f"/api/v1/agents/{agent.pk}/config",
        data=b"{}",
        content_type="application/json; charset=bz2_codec",
    )
    assert response.status_code in (400, 415)
    agent.refresh_from_db()
    assert agent.config == {}


def test_nan_in_a_json_body_is_a_400(operator, agent):
    response = operator.patch(
        f"/api/v1/agents/{agent.pk}/config",
        data='{"purchase_limits": {"max_purchase_per_token": NaN}}',
        content_type="application/json",
    )
    assert response.status_code == 400


def test_a_keys_last_use_is_recorded_to_the_minute(api_client, user):
    from datetime import timedelta

    from agents.authentication import LAST_USED_RESOLUTION
    from agents.models import ApiKey

    key, raw = api_key_create(owner=user, name="reader", scopes=["signals"])
    assert api_client.get("/api/v1/trading-signals", HTTP_X_API_KEY=raw).status_code == 200
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    # A request within the minute writes nothing.
    assert api_client.get("/api/v1/trading-signals", HTTP_X_API_KEY=raw).status_code == 200
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    # One after it records the new time.
    earlier = first - LAST_USED_RESOLUTION - timedelta(seconds=1)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=earlier)
    assert api_client.get("/api/v1/trading-signals", HTTP_X_API_KEY=raw).status_code == 200
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first
