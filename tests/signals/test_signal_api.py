"""POST /api/v1/trading-signals: auth, validation, duplicates, idempotency, and the fan-out
that records every agent's decision and buys for the eligible ones."""

from datetime import timedelta
from decimal import Decimal

import pytest

from agents.services import agent_create, api_key_create
from signals_app.models import SignalExecution, TradingSignal
from signals_app.serializers import SignalSerializer, signal_payload
from trading.models import Position

pytestmark = pytest.mark.django_db
URL = "/api/v1/trading-signals"


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="WIF", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("2000")
    )


def _post(api_client, key, body, **headers):
    return api_client.post(URL, body, format="json", HTTP_X_API_KEY=key, **headers)


def test_signal_buys_for_the_eligible_agent(
    localnet, api_client, api_key, agent, funded_wallet, token, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            api_client,
            api_key,
            {"token_address": token, "signal_type": "BUY", "signal_strength": 3},
        )
    assert response.status_code == 201, response.json()
    execution = SignalExecution.objects.get(signal_id=response.json()["id"], agent=agent)
    assert execution.status == "executed", (execution.reason, execution.error)
    position = Position.objects.get(agent=agent, token_address=token)
    assert execution.position_id == position.pk and execution.transaction is not None


def test_camel_case_body_is_accepted(localnet, api_client, api_key, token):
    response = _post(
        api_client,
        api_key,
        {
            "tokenAddress": token,
            "signalType": "BUY",
            "signalStrength": 5,
            "activationReason": "volume",
        },
    )
    assert response.status_code == 201, response.json()
    signal = TradingSignal.objects.get(pk=response.json()["id"])
    assert (signal.signal_strength, signal.activation_reason) == (5, "volume")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"signal_type": "BUY", "signal_strength": 3}, "token_address"),
        ({"token_address": "not-a-mint", "signal_type": "BUY"}, "token_address"),
        ({"token_address": "So11111111111111111111111111111111111111112"}, "signal_type"),
        (
            {
                "token_address": "So11111111111111111111111111111111111111112",
                "signal_type": "B" * 51,
            },
            "signal_type",
        ),
        (
            {
                "token_address": "So11111111111111111111111111111111111111112",
                "signal_type": "BUY",
                "signal_strength": 6,
            },
            "signal_strength",
        ),
        (
            {
                "token_address": "So11111111111111111111111111111111111111112",
                "signal_type": "BUY",
                "signal_strength": "x",
            },
            "signal_strength",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api_client, api_key, body, field):
    response = _post(api_client, api_key, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "validation_error"
    assert field in [d["field"] for d in payload["details"]]
    assert field in payload["error"]
    assert TradingSignal.objects.count() == 0


def test_non_object_body_is_a_400(api_client, api_key):
    response = api_client.post(URL, [1, 2], format="json", HTTP_X_API_KEY=api_key)
    assert response.status_code == 400
    assert TradingSignal.objects.count() == 0


def test_missing_or_unknown_key_is_401(api_client, token):
    body = {"token_address": token, "signal_type": "BUY"}
    assert api_client.post(URL, body, format="json").status_code == 401
    response = api_client.post(URL, body, format="json", HTTP_X_API_KEY="nxg_nope_nope")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_key_without_signals_scope_is_403(api_client, user, token):
    _, raw = api_key_create(owner=user, name="reader", scopes=["positions"])
    response = api_client.post(
        URL, {"token_address": token, "signal_type": "BUY"}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 403
    assert TradingSignal.objects.count() == 0


def test_bearer_header_carries_the_key_too(api_client, api_key, token):
    response = api_client.post(
        URL,
        {"token_address": token, "signal_type": "BUY"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    assert response.status_code == 201


def test_identical_signal_within_60_seconds_is_409(api_client, api_key, token):
    body = {"token_address": token, "signal_type": "BUY", "signal_strength": 3}
    assert _post(api_client, api_key, body).status_code == 201
    again = _post(api_client, api_key, body)
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate_signal"
    assert _post(api_client, api_key, {**body, "signal_strength": 4}).status_code == 201
    assert TradingSignal.objects.count() == 2


def test_idempotency_key_replays_the_first_result(api_client, api_key, token):
    body = {"token_address": token, "signal_type": "BUY"}
    first = _post(api_client, api_key, body, HTTP_IDEMPOTENCY_KEY="abc-1")
    retry = _post(api_client, api_key, body, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    assert TradingSignal.objects.count() == 1


def test_every_agent_gets_a_recorded_decision(
    localnet,
    api_client,
    api_key,
    user,
    agent,
    funded_wallet,
    token,
    django_capture_on_commit_callbacks,
):
    broke = agent_create(owner=user, name="Broke")
    picky = agent_create(owner=user, name="Picky", config={"signals": {"min_score": 5}})
    off = agent_create(owner=user, name="Off", automated_trading_simulation=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            api_client,
            api_key,
            {"token_address": token, "signal_type": "BUY", "signal_strength": 3},
        )
    reasons = {
        e.agent_id: (e.status, e.reason)
        for e in SignalExecution.objects.filter(signal_id=response.json()["id"])
    }
    assert reasons == {
        agent.pk: ("executed", ""),
        broke.pk: ("skipped", "insufficient_balance"),
        picky.pk: ("skipped", "below_min_score"),
        off.pk: ("skipped", "automation_off"),
    }
    detail = api_client.get(f"{URL}/{response.json()['id']}", HTTP_X_API_KEY=api_key).json()
    assert {e["agent"]: e["reason"] for e in detail["executions"]}[picky.pk] == "below_min_score"


def test_signal_detail_of_another_user_is_404(api_client, api_key, other_user, token):
    _, other_key = api_key_create(owner=other_user, name="theirs", scopes=["signals"])
    created = _post(api_client, other_key, {"token_address": token, "signal_type": "BUY"}).json()
    assert api_client.get(f"{URL}/{created['id']}", HTTP_X_API_KEY=api_key).status_code == 404


def test_redelivered_execution_never_buys_twice(
    localnet, api_client, api_key, agent, funded_wallet, token, django_capture_on_commit_callbacks
):
    from signals_app.services import signal_execute
    from signals_app.tasks import signal_fan_out

    with django_capture_on_commit_callbacks(execute=True):
        signal_id = _post(
            api_client, api_key, {"token_address": token, "signal_type": "BUY"}
        ).json()["id"]
    signal_fan_out(signal_id)
    signal_execute(signal_id=signal_id, agent_id=agent.pk)
    assert Position.objects.filter(agent=agent).count() == 1
    assert SignalExecution.objects.filter(signal_id=signal_id).count() == 1


def test_a_posted_signal_answers_what_its_serializer_gives(api_client, api_key, token):
    body = {
        "token_address": token,
        "signal_type": "BUY",
        "signal_strength": 4,
        "symbol": "WIF",
        "activation_reason": "volume spike",
        "source": "scanner",
    }
    response = _post(api_client, api_key, body)
    assert response.status_code == 201
    signal = TradingSignal.objects.get(pk=response.json()["id"])
    assert response.json() == dict(SignalSerializer(signal).data)
    signal.processed_at = signal.created_at + timedelta(milliseconds=3)
    assert signal_payload(signal) == SignalSerializer(signal).data
    assert list(signal_payload(signal)) == list(SignalSerializer(signal).data)
