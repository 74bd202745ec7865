"""What the API accepts (nexgent.inputs): a body names only fields its endpoint takes, amounts
are ASCII decimals within a per-operation cap, counts have maxima, names have a letter.
Each refusal is a 400 validation_error naming the field, and changes nothing."""

from datetime import UTC, datetime

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from agents.models import Agent, ApiKey
from signals_app.models import TradingSignal
from trading.models import KillSwitch, RiskPause, Transaction
from wallets.models import AgentWallet
from wallets.services import wallet_assign, wallet_create_live

pytestmark = pytest.mark.django_db

MINT = "So11111111111111111111111111111111111111112"
# Arabic-Indic digits: Python's int() and Decimal() read them as numbers.
ARABIC_ONE, ARABIC_THREE, ARABIC_TEN, ARABIC_123 = (
    "\u0661",
    "\u0663",
    "\u0661\u0660",
    "\u0661\u0662\u0663",
)
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
BODY_OPERATIONS = [
    (path, method.upper())
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if "requestBody" in operation
]


@pytest.fixture
def api(user):
    user.is_staff = True  # the kill switch is staff-only
    user.save(update_fields=["is_staff"])
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user)
    return client


@pytest.fixture
def pause(agent):
    # No service opens a pause by hand: the guards do, after real losses (tests/trading).
    return RiskPause.objects.create(
        agent=agent, reason="daily_loss_limit", started_at=datetime.now(UTC)
    )


def _state():
    """Everything a refused request might have changed."""
    return (
        list(Agent.objects.order_by("pk").values()),
        list(ApiKey.objects.order_by("pk").values()),
        Transaction.objects.count(),
        TradingSignal.objects.count(),
        list(RiskPause.objects.values("ended_at", "end_note")),
        list(KillSwitch.objects.values("mode")),
        list(AgentWallet.objects.order_by("pk").values("address", "agent_id", "mode")),
    )


def _refused(response, field: str) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in {detail["field"] for detail in body["details"]}, body
    assert field in body["error"]
    return body


@pytest.fixture
def live_wallet(user, agent):
    return wallet_assign(wallet=wallet_create_live(owner=user), agent=agent)


def _path(template: str, agent, pause, api_key_id, address: str = "") -> str:
    return (
        template.replace("{agent_id}", str(agent.pk))
        .replace("{address}", address)
        .replace("{pause_id}", str(pause.pk))
        .replace("{id}", str(api_key_id if "api-keys" in template else agent.pk))
    )


@pytest.mark.parametrize(("path", "method"), BODY_OPERATIONS)
def test_every_body_refuses_an_unknown_field(api, agent, pause, api_key, live_wallet, path, method):
    state = _state()
    url = _path(path, agent, pause, ApiKey.objects.get().pk, live_wallet.address)
    response = api.generic(method, url, '{"foo": 1}', content_type="application/json")
    _refused(response, "foo")
    assert _state() == state


def test_every_request_body_is_documented_as_strict():
    components = SCHEMA["components"]["schemas"]
    for path, method in BODY_OPERATIONS:
        operation = SCHEMA["paths"][path][method.lower()]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert components[ref.rsplit("/", 1)[-1]]["additionalProperties"] is False, path


def test_a_field_of_another_endpoint_is_refused_and_nothing_is_made(api):
    body = {"name": "provider", "scopes": ["signals"], "is_active": False}
    _refused(api.post("/api/v1/api-keys", body, format="json"), "is_active")
    assert not ApiKey.objects.exists()


def test_a_read_only_field_is_refused(api, agent):
    _refused(api.patch(f"/api/v1/agents/{agent.pk}", {"id": 99}, format="json"), "id")


def test_a_signal_with_an_unknown_field_is_not_recorded(api):
    body = {"token_address": MINT, "signal_type": "BUY", "strenght": 5}
    _refused(api.post("/api/v1/trading-signals", body, format="json"), "strenght")
    assert not TradingSignal.objects.exists()


def test_camel_case_signal_keys_are_still_accepted(api):
    body = {"tokenAddress": MINT, "signalType": "BUY", "signalStrength": 4}
    response = api.post("/api/v1/trading-signals", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["signal_strength"] == 4


@pytest.mark.parametrize(
    "amount",
    [
        ARABIC_TEN,  # Python's Decimal reads it as 10
        "1_000",
        "100000000000000000000",  # 1e20 SOL
        "1E+20",
        "1000000000.000000001",  # just over the cap
        "0.0000000001",  # under a lamport
        "1." + "0" * 18 + "1",  # past the ledger's 18 places
        "0",
        "-1",
        "NaN",
        "Infinity",
    ],
)
def test_a_transfer_amount_must_be_a_plain_amount_within_the_cap(api, agent, amount):
    url = f"/api/v1/agents/{agent.pk}/transactions"
    _refused(api.post(url, {"type": "DEPOSIT", "amount": amount}, format="json"), "amount")
    assert not Transaction.objects.exists()


def test_a_transfer_of_1e20_as_a_json_number_is_refused(api, agent):
    url = f"/api/v1/agents/{agent.pk}/transactions"
    response = api.post(url, '{"type": "DEPOSIT", "amount": 1e20}', content_type="application/json")
    _refused(response, "amount")
    assert not Transaction.objects.exists()


def test_the_largest_transfer_goes_through(api, agent):
    url = f"/api/v1/agents/{agent.pk}/transactions"
    response = api.post(url, {"type": "DEPOSIT", "amount": "1000000000"}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("name", ["123", "  ", "---", "  Al  ", "x" * 51, ARABIC_123])
def test_an_agent_name_needs_a_letter_and_a_sensible_length(api, name):
    _refused(api.post("/api/v1/agents", {"name": name}, format="json"), "name")
    assert not Agent.objects.exists()


def test_an_agent_name_is_trimmed(api):
    response = api.post("/api/v1/agents", {"name": "  Alpha 2  "}, format="json")
    assert response.status_code == 201, response.content
    assert Agent.objects.get().name == "Alpha 2"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"risk": {"max_open_positions": "100000000000000000000"}}, "risk.max_open_positions"),
        ({"risk": {"max_open_positions": 10001}}, "risk.max_open_positions"),
        ({"stale_trade": {"min_hold_minutes": 10**9}}, "stale_trade.min_hold_minutes"),
        ({"signals": {"holder_count_max": 10**11}}, "signals.holder_count_max"),
        ({"signals": {"market_cap_max": "1e16"}}, "signals.market_cap_max"),
        (
            {"purchase_limits": {"max_purchase_per_token": ARABIC_TEN}},
            "purchase_limits.max_purchase_per_token",
        ),
        ({"risk": {"daily_loss_limit_sol": "2000000000"}}, "risk.daily_loss_limit_sol"),
    ],
)
def test_config_numbers_have_maxima_and_ascii_digits(api, agent, patch, field):
    url = f"/api/v1/agents/{agent.pk}/config"
    _refused(api.patch(url, patch, format="json"), field)
    agent.refresh_from_db()
    assert agent.config == {}


def test_a_config_integer_of_a_million_digits_is_refused_at_once(api, agent):
    url = f"/api/v1/agents/{agent.pk}/config"
    body = '{"risk": {"max_open_positions": 1e999999999}}'
    _refused(api.patch(url, body, content_type="application/json"), "risk.max_open_positions")


@pytest.mark.parametrize("strength", [ARABIC_THREE, "3.5", "6", "1e1"])
def test_a_signal_strength_is_an_ascii_integer_from_1_to_5(api, strength):
    body = {"token_address": MINT, "signal_type": "BUY", "signal_strength": strength}
    _refused(api.post("/api/v1/trading-signals", body, format="json"), "signal_strength")


@pytest.mark.parametrize("limit", [ARABIC_TEN, "0", "1001", "ten"])
def test_a_list_limit_is_an_ascii_integer_up_to_1000(api, agent, limit):
    _refused(api.get(f"/api/v1/agents/{agent.pk}/transactions", {"limit": limit}), "limit")
    _refused(api.get("/api/v1/trading-signals", {"limit": limit}), "limit")


def test_a_preview_buy_must_be_a_plain_amount(api):
    body = {"buy_sol": ARABIC_ONE, "prices": [{"t": "2026-01-01T00:00:00Z", "price": "0.001"}]}
    _refused(api.post("/api/v1/strategy/preview", body, format="json"), "buy_sol")


def test_an_unknown_format_is_a_400_naming_it(api):
    _refused(api.get("/api/v1/trading-signals", {"format": "xml"}), "format")


def test_the_bounds_are_in_the_schema():
    components = SCHEMA["components"]["schemas"]
    amount = components["TransferRequest"]["properties"]["amount"]
    assert amount["anyOf"][0]["maximum"] == 1_000_000_000
    assert components["AgentRequest"]["properties"]["name"]["minLength"] == 3
    risk = components["RiskConfig"]["properties"]["max_open_positions"]
    assert risk["maximum"] == 10_000
