"""A posted signal's `action` (buy, the default, or sell: exit the position in the token) and
each agent's decision source (posted signals, its AI strategist's, or both)."""

from decimal import Decimal

import pytest

from agents.services import agent_create
from signals_app.models import SignalExecution, TradingSignal
from signals_app.services import signal_create
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, Position, PositionStatus
from trading.risk_services import kill_switch_set
from trading.services import position_buy

pytestmark = pytest.mark.django_db
URL = "/api/v1/trading-signals"


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="WIF", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("2000")
    )


def _agent(owner, name, *, source="posted", holding=None):
    agent = agent_create(owner=owner, name=name, config={"signals": {"decision_source": source}})
    wallet = agent.wallets.get(mode="simulation")
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    if holding:
        position_buy(agent=agent, wallet=wallet, token_address=holding, sol_amount=Decimal("0.2"))
    return agent


def _post(api_client, key, capture, **body):
    with capture(execute=True):
        response = api_client.post(
            URL,
            {"token_address": body.pop("token"), "signal_type": "TEST", **body},
            format="json",
            HTTP_X_API_KEY=key,
        )
    assert response.status_code == 201, response.json()
    return response.json()


def _decisions(signal_id) -> dict[str, tuple[str, str]]:
    return {
        execution.agent.name: (execution.status, execution.reason)
        for execution in SignalExecution.objects.filter(signal_id=signal_id).select_related("agent")
    }


def test_a_sell_signal_exits_the_agents_that_hold_the_token(
    localnet, api_client, api_key, user, token, django_capture_on_commit_callbacks
):
    holder = _agent(user, "Holder", holding=token)
    _agent(user, "Empty")
    strategist_only = _agent(user, "AI only", source="ai", holding=token)

    answer = _post(
        api_client, api_key, django_capture_on_commit_callbacks, token=token, action="sell"
    )

    assert answer["action"] == "sell"
    assert _decisions(answer["id"]) == {
        "Holder": ("executed", ""),
        "Empty": ("skipped", "no_open_position"),
        "AI only": ("skipped", "posted_signals_off"),
    }
    trade = ClosedTrade.objects.get(agent=holder)
    assert trade.close_reason == "signal"
    assert SignalExecution.objects.get(signal_id=answer["id"], agent=holder).position_id == (
        trade.position_id
    )
    assert Position.objects.get(agent=strategist_only).status == PositionStatus.OPEN
    # A sell never buys: no agent opened anything.
    assert Position.objects.filter(status=PositionStatus.OPEN).count() == 1


def test_a_signal_without_action_buys_and_an_ai_only_agent_does_not_take_it(
    localnet, api_client, api_key, user, token, django_capture_on_commit_callbacks
):
    _agent(user, "Posted")
    _agent(user, "Both", source="both")
    _agent(user, "AI only", source="ai")

    answer = _post(api_client, api_key, django_capture_on_commit_callbacks, token=token)

    assert answer["action"] == "buy"
    assert _decisions(answer["id"]) == {
        "Posted": ("executed", ""),
        "Both": ("executed", ""),
        "AI only": ("skipped", "posted_signals_off"),
    }


def test_a_sell_under_reduce_only_still_exits_but_a_halt_stops_it(
    localnet, api_client, api_key, user, token, django_capture_on_commit_callbacks
):
    holder = _agent(user, "Holder", holding=token)
    kill_switch_set(mode="halt", user=user)
    halted = _post(
        api_client, api_key, django_capture_on_commit_callbacks, token=token, action="sell"
    )
    assert _decisions(halted["id"]) == {"Holder": ("skipped", "kill_switch_halt")}

    kill_switch_set(mode="reduce_only", user=user)
    reduced = _post(
        api_client,
        api_key,
        django_capture_on_commit_callbacks,
        token=token,
        action="sell",
        signal_strength=2,
    )
    assert _decisions(reduced["id"]) == {"Holder": ("executed", "")}
    assert ClosedTrade.objects.get(agent=holder).close_reason == "signal"


def test_a_strategist_signal_goes_to_its_agent_alone(
    localnet, user, token, django_capture_on_commit_callbacks
):
    from signals_app.tasks import signal_received

    own = _agent(user, "Own", source="ai")
    _agent(user, "Neighbour", source="both")
    _agent(user, "Posted only")

    with django_capture_on_commit_callbacks(execute=True):
        signal, _ = signal_create(
            owner=user,
            token_address=token,
            signal_type="AI",
            signal_strength=3,
            source="ai",
            agent=own,
        )
        signal_received(signal)

    assert _decisions(signal.pk) == {"Own": ("executed", "")}


def test_a_strategist_signal_to_an_agent_that_takes_posted_signals_only_is_skipped(
    localnet, user, token, django_capture_on_commit_callbacks
):
    from signals_app.tasks import signal_received

    posted = _agent(user, "Posted only")
    with django_capture_on_commit_callbacks(execute=True):
        signal, _ = signal_create(
            owner=user, token_address=token, signal_type="AI", signal_strength=3, agent=posted
        )
        signal_received(signal)

    assert _decisions(signal.pk) == {"Posted only": ("skipped", "strategist_off")}


def test_an_unknown_action_is_a_400_naming_it(api_client, api_key, token):
    response = api_client.post(
        URL,
        {"token_address": token, "signal_type": "X", "action": "hold"},
        format="json",
        HTTP_X_API_KEY=api_key,
    )

    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == ["action"]
    assert TradingSignal.objects.count() == 0
