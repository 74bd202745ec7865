"""The signals page (decisions in words, a test signal through the API's service, how to post
signals) and the system page (data sources, SOL/USD, tick, kill switch, versions)."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from agents.services import agent_create
from signals_app.models import SignalExecution, TradingSignal
from signals_app.reasons import REASONS, reason_text
from tests.dashboard.factories import make_execution
from trading.models import KillSwitch, Position
from trading.risk_selectors import kill_switch_mode

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="WIF", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("2000")
    )


def test_each_decision_is_shown_with_its_reason_in_words(operator, user, agent, other_user):
    make_execution(
        agent, symbol="SKIPD", signal_type="breakout", status="skipped", reason="position_exists"
    )
    make_execution(
        agent, symbol="HALTD", signal_type="breakout", status="skipped", reason="kill_switch_halt"
    )
    theirs = agent_create(owner=other_user, name="Theirs")
    make_execution(
        theirs, symbol="NOTMINE", signal_type="breakout", status="skipped", reason="automation_off"
    )

    body = operator.get(reverse("dashboard-signals")).content.decode()

    assert REASONS["position_exists"] in body
    assert REASONS["kill_switch_halt"] in body
    assert "NOTMINE" not in body


def test_an_unknown_reason_code_is_still_readable():
    assert reason_text("something_new") == "Something new."
    assert reason_text("") == ""


def test_signals_are_paginated(operator, agent):
    for index in range(30):
        make_execution(
            agent,
            symbol=f"S{index:02d}",
            signal_type="breakout",
            status="skipped",
            reason="automation_off",
        )

    first = operator.get(reverse("dashboard-signals"))
    second = operator.get(reverse("dashboard-signals"), {"page": 2})

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5
    assert "S29" in first.content.decode() and "S29" not in second.content.decode()


def test_the_page_shows_the_users_own_endpoint_and_an_example(operator):
    body = operator.get(reverse("dashboard-signals")).content.decode()

    assert "http://testserver/api/v1/trading-signals" in body
    assert "X-API-Key" in body


def test_a_test_signal_is_sent_through_the_service_and_fans_out(
    operator, user, agent, funded_wallet, token, localnet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            reverse("dashboard-signals"),
            {"token_address": token, "signal_type": "test", "signal_strength": "5"},
        )

    assert response.status_code == 302
    signal = TradingSignal.objects.get(owner=user)
    assert signal.source == "dashboard test"
    execution = SignalExecution.objects.get(signal=signal, agent=agent)
    assert execution.status == "executed", (execution.reason, execution.error)
    assert Position.objects.filter(agent=agent, token_address=token).exists()


def test_a_sell_test_signal_exits_the_position(
    operator, user, agent, funded_wallet, token, localnet, django_capture_on_commit_callbacks
):
    from trading.services import position_buy

    position_buy(agent=agent, wallet=funded_wallet, token_address=token, sol_amount=Decimal("1"))
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            reverse("dashboard-signals"),
            {
                "token_address": token,
                "signal_type": "exit",
                "signal_strength": "5",
                "action": "sell",
            },
        )

    assert response.status_code == 302
    assert TradingSignal.objects.get(owner=user).action == "sell"
    assert Position.objects.get(agent=agent, token_address=token).close_reason == "signal"
    page = operator.get(reverse("dashboard-signals")).content.decode()
    assert "<strong>sell</strong>" in page


@pytest.mark.parametrize(
    ("field", "value"),
    [("token_address", "not-a-mint"), ("signal_strength", "9"), ("signal_type", "")],
)
def test_a_bad_test_signal_shows_the_fields_message_and_sends_nothing(operator, field, value):
    data = {
        "token_address": "So11111111111111111111111111111111111111112",
        "signal_type": "test",
        "signal_strength": "3",
        field: value,
    }

    response = operator.post(reverse("dashboard-signals"), data)

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not TradingSignal.objects.exists()


def test_the_system_page_shows_sources_switch_and_versions(operator, localnet):
    response = operator.get(reverse("dashboard-system"))

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="data-sources"' in body
    assert "Django" in body and "Python" in body
    assert response.context["versions"]["Nexgent"]
    assert 'id="kill-switch"' in body


def test_the_system_figures_refresh_alone(operator, localnet):
    page = operator.get(reverse("dashboard-system")).content.decode()
    refresh = operator.get(reverse("dashboard-system"), headers={"HX-Request": "true"})

    body = refresh.content.decode()
    # The page asks for its figures every 10 s; the answer is the figures and nothing else.
    assert 'id="system-status" hx-get="/system/" hx-trigger="every 10s"' in page
    assert body.lstrip().startswith('<div id="system-status"')
    assert 'id="data-sources"' in body and "<html" not in body and 'id="kill-switch"' not in body
    assert "HX-Request" in refresh["Vary"]


@pytest.fixture
def staff(client, django_user_model):
    admin = django_user_model.objects.create_user(
        email="staff@example.com", password="pw-12345678", is_staff=True
    )
    client.force_login(admin)
    return client


def test_the_kill_switch_is_set_after_a_confirm(staff):
    url = reverse("dashboard-kill-switch")

    asked = staff.post(url, {"mode": "halt"})
    assert asked.status_code == 200
    assert kill_switch_mode() == "off"

    done = staff.post(url, {"mode": "halt", "confirm": "1", "note": "drill"})
    assert done.status_code == 302
    assert kill_switch_mode() == "halt"
    assert KillSwitch.objects.get().note == "drill"
    body = staff.get(reverse("dashboard-home")).content.decode()
    assert "Kill switch" in body


def test_only_staff_set_the_kill_switch(operator):
    response = operator.post(reverse("dashboard-kill-switch"), {"mode": "halt", "confirm": "1"})

    assert response.status_code == 403
    assert kill_switch_mode() == "off"


def test_an_unknown_kill_switch_mode_changes_nothing(staff):
    staff.post(reverse("dashboard-kill-switch"), {"mode": "panic", "confirm": "1"})

    assert kill_switch_mode() == "off"


def test_the_kill_switch_needs_the_csrf_token(django_user_model):
    admin = django_user_model.objects.create_user(
        email="staff@example.com", password="pw-12345678", is_staff=True
    )
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)

    response = browser.post(reverse("dashboard-kill-switch"), {"mode": "halt", "confirm": "1"})

    assert response.status_code == 403
    assert kill_switch_mode() == "off"
