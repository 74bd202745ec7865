"""The operator's kill switch: `halt` = no buys and no sells, `reduce_only` = sells only; set
through the API (staff only) or the admin, obeyed by signals, automated exits, DCA and manual
closes."""

from decimal import Decimal

import pytest

from agents.services import api_key_create
from signals_app.models import SignalExecution
from signals_app.services import signal_create, signal_execute_batch, signal_fan_out
from tests.trading.risk_support import guarded_agent, open_position, signal_for
from trading import tasks
from trading.models import KillSwitch, Position
from trading.risk_services import kill_switch_set
from trading.tasks import price_poll

pytestmark = pytest.mark.django_db
URL = "/api/v1/risk/kill-switch"
D = Decimal


@pytest.fixture
def token(market):
    return market.add_token(symbol="WIF", price_sol=D("0.002"), decimals=6, liquidity_sol=D("5000"))


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        email="ops@example.com", password="pw-12345678", is_staff=True, is_superuser=True
    )


@pytest.fixture
def position(localnet, user, token):
    agent, wallet = guarded_agent(user)
    return open_position(agent, wallet, token)


def _halt(mode="halt"):
    kill_switch_set(mode=mode, user=None, note="test")


def _through_the_stop(market, token, django_capture_on_commit_callbacks):
    market.set_price(token, D("0.001"))  # -50%: through the -32% stop
    with django_capture_on_commit_callbacks(execute=True):
        price_poll()


# --- API -----------------------------------------------------------------------------------------


def test_staff_read_and_set_the_switch(api_client, staff):
    api_client.force_authenticate(staff)
    assert api_client.get(URL).json()["mode"] == "off"

    response = api_client.put(URL, {"mode": "halt", "note": "incident 12"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["mode"], body["set_by"], body["note"]) == ("halt", staff.email, "incident 12")
    assert body["set_at"] is not None
    assert KillSwitch.objects.get().mode == "halt"


def test_an_unknown_mode_is_a_400_naming_the_field(api_client, staff):
    api_client.force_authenticate(staff)
    response = api_client.put(URL, {"mode": "panic"}, format="json")
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["mode"]
    assert not KillSwitch.objects.exists()


def test_operators_who_are_not_staff_and_api_keys_cannot_touch_it(api_client, user, staff):
    api_client.force_authenticate(user)
    assert api_client.get(URL).status_code == 403
    assert api_client.put(URL, {"mode": "halt"}, format="json").status_code == 403
    api_client.force_authenticate(None)
    _, key = api_key_create(owner=staff, name="ops", scopes=["full_access"])
    response = api_client.put(URL, {"mode": "halt"}, format="json", HTTP_X_API_KEY=key)
    assert response.status_code == 403
    assert api_client.get(URL).status_code == 401
    assert not KillSwitch.objects.exists()


# --- Buys --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["halt", "reduce_only"])
def test_no_agent_buys_under_halt_or_reduce_only(
    localnet, market, user, token, mode, django_capture_on_commit_callbacks
):
    agent, _ = guarded_agent(user, signals={"market_cap_min": "1"})
    _halt(mode)

    execution = signal_for(user, agent, token, django_capture_on_commit_callbacks)

    assert (execution.status, execution.reason) == ("skipped", f"kill_switch_{mode}")
    assert execution.details == {"kill_switch": mode}
    assert not Position.objects.filter(agent=agent).exists()
    assert market.recorded("jupiter_tokens") == []  # nothing to decide, nothing fetched


def test_a_switch_thrown_after_the_fan_out_stops_the_buy(
    localnet, user, token, django_capture_on_commit_callbacks
):
    agent, _ = guarded_agent(user)
    signal, _ = signal_create(owner=user, token_address=token, signal_type="BUY", signal_strength=3)
    fan_out = signal_fan_out(signal_id=signal.pk)
    _halt()
    signal_execute_batch(signal_id=signal.pk, agent_ids=fan_out.pending)
    execution = SignalExecution.objects.get(signal=signal, agent=agent)
    assert (execution.status, execution.reason) == ("skipped", "kill_switch_halt")
    assert not Position.objects.filter(agent=agent).exists()


def test_buys_resume_when_the_switch_is_off_again(
    localnet, user, token, django_capture_on_commit_callbacks
):
    agent, _ = guarded_agent(user)
    _halt()
    _halt("off")
    assert signal_for(user, agent, token, django_capture_on_commit_callbacks).status == "executed"


# --- Sells ---------------------------------------------------------------------------------------


def test_halt_stops_automated_exits_until_it_is_lifted(
    position, market, token, django_capture_on_commit_callbacks
):
    _halt()
    _through_the_stop(market, token, django_capture_on_commit_callbacks)
    assert Position.objects.get(pk=position.pk).status == "open"

    _halt("off")
    _through_the_stop(market, token, django_capture_on_commit_callbacks)
    position.refresh_from_db()
    assert (position.status, position.close_reason) == ("closed", "stop_loss")


def test_halt_stops_take_profit_sales(position):
    _halt()
    tasks.position_take_profit(position.pk, "1", 0, 1, False, "0", False)
    assert Position.objects.get(pk=position.pk).take_profit_levels_hit == 0


def test_reduce_only_lets_exits_run_but_no_dca_buy(
    position, market, token, django_capture_on_commit_callbacks
):
    _halt("reduce_only")
    tasks.position_dca_buy(position.pk, "0.5", 0, 0)
    assert Position.objects.get(pk=position.pk).dca_count == 0

    _through_the_stop(market, token, django_capture_on_commit_callbacks)
    assert Position.objects.get(pk=position.pk).status == "closed"


def test_manual_close_is_refused_under_halt_and_allowed_under_reduce_only(
    position, api_client, user
):
    api_client.force_authenticate(user)
    url = f"/api/v1/agents/{position.agent_id}/positions/{position.pk}/close"
    _halt()
    refused = api_client.post(url)
    assert refused.status_code == 409
    assert refused.json()["code"] == "kill_switch_halt"
    assert Position.objects.get(pk=position.pk).status == "open"

    _halt("reduce_only")
    closed = api_client.post(url)
    assert closed.status_code == 200, closed.json()
    assert closed.json()["status"] == "closed"


# --- Admin ---------------------------------------------------------------------------------------


def test_the_admin_sets_the_switch_and_records_who(client, staff):
    client.force_login(staff)
    page = client.post("/admin/trading/killswitch/add/", {"mode": "reduce_only", "note": "vol"})
    assert page.status_code == 302
    switch = KillSwitch.objects.get()
    assert (switch.mode, switch.set_by, switch.note) == ("reduce_only", staff, "vol")

    client.post(
        "/admin/trading/killswitch/",
        {"action": "halt", "_selected_action": [switch.pk]},
    )
    assert KillSwitch.objects.get().mode == "halt"


def test_the_admin_close_action_is_refused_under_halt(position, client, staff):
    client.force_login(staff)
    _halt()
    client.post(
        "/admin/trading/position/",
        {"action": "close_positions", "_selected_action": [position.pk]},
    )
    assert Position.objects.get(pk=position.pk).status == "open"

    _halt("off")
    client.post(
        "/admin/trading/position/",
        {"action": "close_positions", "_selected_action": [position.pk]},
    )
    assert Position.objects.get(pk=position.pk).status == "closed"
