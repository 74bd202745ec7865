"""GET /api/v1/trading-signals: filters, limits, the CSV export, and the per-key throttle."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from agents.services import agent_create, api_key_create
from signals_app.models import ExecutionStatus, SignalExecution, TradingSignal
from signals_app.services import signal_create

pytestmark = pytest.mark.django_db
URL = "/api/v1/trading-signals"
MINT_A = "So11111111111111111111111111111111111111112"
MINT_B = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def _signal(owner, token=MINT_A, *, signal_type="BUY", strength=3, source="", reason="", at=None):
    signal, _ = signal_create(
        owner=owner,
        token_address=token,
        signal_type=signal_type,
        signal_strength=strength,
        source=source,
        activation_reason=reason,
    )
    if at is not None:
        TradingSignal.objects.filter(pk=signal.pk).update(created_at=at)
    return signal


def _get(api_client, key, path=URL, **params):
    return api_client.get(path, params, HTTP_X_API_KEY=key)


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["signals"]]


def _execution(signal, agent, status, reason=""):
    SignalExecution.objects.create(signal=signal, agent=agent, status=status, reason=reason)


def test_filters_by_token_type_source_and_time(api_client, api_key, user):
    now = datetime.now(UTC)
    old = _signal(user, MINT_A, signal_type="BUY", source="alpha", at=now - timedelta(hours=2))
    other_token = _signal(user, MINT_B, signal_type="BUY", source="alpha")
    other_type = _signal(user, MINT_A, signal_type="SELL", source="beta")

    assert _ids(_get(api_client, api_key, token_address=MINT_B)) == [other_token.pk]
    assert _ids(_get(api_client, api_key, signal_type="SELL")) == [other_type.pk]
    assert set(_ids(_get(api_client, api_key, source="alpha"))) == {old.pk, other_token.pk}
    hour_ago = (now - timedelta(hours=1)).isoformat()
    assert _ids(_get(api_client, api_key, created_before=hour_ago)) == [old.pk]
    assert set(_ids(_get(api_client, api_key, created_after=hour_ago))) == {
        other_token.pk,
        other_type.pk,
    }


def test_status_and_agent_filters_select_by_the_executions(api_client, api_key, user, agent):
    other = agent_create(owner=user, name="Other")
    bought = _signal(user, MINT_A)
    skipped = _signal(user, MINT_B)
    _execution(bought, agent, ExecutionStatus.EXECUTED)
    _execution(bought, other, ExecutionStatus.SKIPPED, "below_min_score")
    _execution(skipped, agent, ExecutionStatus.SKIPPED, "position_exists")

    assert set(_ids(_get(api_client, api_key, status="skipped"))) == {bought.pk, skipped.pk}
    assert _ids(_get(api_client, api_key, status="skipped", agent=agent.pk)) == [skipped.pk]
    rows = _get(api_client, api_key, agent=other.pk).json()["signals"]
    assert [row["id"] for row in rows] == [bought.pk]
    assert rows[0]["agent_execution"]["reason"] == "below_min_score"
    assert rows[0]["executions_summary"] == {"executed": 1, "skipped": 1, "failed": 0, "pending": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"status": "bought"}, "status"),
        (
            {"created_after": "2026-01-02T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
            "created_before",
        ),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(api_client, api_key, params, field):
    response = _get(api_client, api_key, **params)
    assert response.status_code == 400
    assert field in [d["field"] for d in response.json()["details"]]


def test_limit_caps_the_list_newest_first(api_client, api_key, user):
    signals = [_signal(user, signal_type=f"T{n}") for n in range(5)]
    assert _ids(_get(api_client, api_key, limit=2)) == [signals[4].pk, signals[3].pk]
    assert len(_ids(_get(api_client, api_key, limit=1000))) == 5


def test_another_owners_signals_are_never_listed(api_client, api_key, user, other_user):
    mine = _signal(user)
    _signal(other_user)
    assert _ids(_get(api_client, api_key)) == [mine.pk]
    response = _get(api_client, api_key, path=f"{URL}/export.csv")
    assert len(list(csv.reader(io.StringIO(response.content.decode())))) == 2


@pytest.mark.parametrize("path", [f"{URL}?format=csv", f"{URL}/export.csv"])
def test_csv_export_has_a_header_and_one_row_per_signal(api_client, api_key, user, agent, path):
    signal = _signal(user, MINT_B, source="alpha", reason="volume spike")
    _execution(signal, agent, ExecutionStatus.EXECUTED)
    response = api_client.get(path, HTTP_X_API_KEY=api_key)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    (row,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert row["id"] == str(signal.pk)
    assert (row["token_address"], row["source"], row["activation_reason"]) == (
        MINT_B,
        "alpha",
        "volume spike",
    )
    assert (row["executed"], row["skipped"]) == ("1", "0")


def test_csv_export_takes_the_same_filters_and_the_agents_decision(
    api_client, api_key, user, agent
):
    kept = _signal(user, MINT_A)
    _signal(user, MINT_B)
    _execution(kept, agent, ExecutionStatus.SKIPPED, "token_blacklisted")
    response = api_client.get(
        f"{URL}/export.csv", {"agent": agent.pk, "status": "skipped"}, HTTP_X_API_KEY=api_key
    )
    (row,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["id"], row["agent_status"], row["agent_reason"]) == (
        str(kept.pk),
        "skipped",
        "token_blacklisted",
    )


def test_csv_cells_cannot_start_a_spreadsheet_formula(api_client, api_key, user):
    _signal(user, reason="=HYPERLINK(1)", source="+cmd")
    response = api_client.get(f"{URL}/export.csv", HTTP_X_API_KEY=api_key)
    (row,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["activation_reason"], row["source"]) == ("'=HYPERLINK(1)", "'+cmd")


def test_csv_export_of_a_bad_filter_is_a_json_400(api_client, api_key):
    response = api_client.get(f"{URL}/export.csv", {"limit": 5000}, HTTP_X_API_KEY=api_key)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "validation_error"


def test_the_121st_signal_in_a_minute_is_429_and_writes_nothing(api_client, api_key):
    for n in range(120):
        body = {"token_address": MINT_A, "signal_type": f"T{n}"}
        response = api_client.post(URL, body, format="json", HTTP_X_API_KEY=api_key)
        assert response.status_code == 201, (n, response.json())
    over = api_client.post(
        URL, {"token_address": MINT_A, "signal_type": "T120"}, format="json", HTTP_X_API_KEY=api_key
    )
    assert over.status_code == 429
    assert over.json()["code"] == "throttled"
    assert "Retry-After" in over
    assert TradingSignal.objects.count() == 120
    assert not TradingSignal.objects.filter(signal_type="T120").exists()
    # Reads are not counted against the key's signal budget.
    assert _get(api_client, api_key).status_code == 200


def test_the_throttle_is_per_key(api_client, api_key, user):
    _, second_key = api_key_create(owner=user, name="second", scopes=["signals"])
    for n in range(120):
        body = {"token_address": MINT_A, "signal_type": f"T{n}"}
        api_client.post(URL, body, format="json", HTTP_X_API_KEY=api_key)
    body = {"token_address": MINT_B, "signal_type": "OTHER"}
    assert api_client.post(URL, body, format="json", HTTP_X_API_KEY=second_key).status_code == 201
