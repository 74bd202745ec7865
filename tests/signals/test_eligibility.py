"""agent_skip_reason and skip_details as pure rules (trading-rules.md sections 2 and 8)."""

from decimal import Decimal

import pytest

from agents.config import effective_config
from agents.models import Agent
from signals_app.eligibility import (
    AgentFacts,
    SignalFacts,
    TokenMetrics,
    agent_skip_reason,
    metric_bounds_set,
    skip_details,
)

MINT = "So11111111111111111111111111111111111111112"
METRICS = TokenMetrics(market_cap=Decimal("1000"), liquidity_usd=Decimal("500"), holder_count=50)


def _facts(config=None, *, balance="10", open_tokens=(), pause=None, **agent_fields):
    agent = Agent(name="Pure", **agent_fields)
    return AgentFacts(
        agent=agent,
        config=effective_config(config or {}),
        has_wallet=True,
        sol_balance=Decimal(balance),
        open_tokens=frozenset(open_tokens),
        risk_pause=pause,
    )


def _signal(metrics=METRICS, kill_switch="off", strength=3):
    return SignalFacts(MINT, "BUY", strength, token_metrics=metrics, kill_switch=kill_switch)


def test_an_agent_that_passes_every_check_is_eligible():
    assert agent_skip_reason(_signal(), _facts()) is None


@pytest.mark.parametrize(
    ("bounds", "reason"),
    [
        ({"market_cap_min": "1000", "market_cap_max": "1000"}, None),  # bounds are inclusive
        ({"market_cap_min": "1001"}, "market_cap_out_of_range"),
        ({"market_cap_max": "999"}, "market_cap_out_of_range"),
        ({"liquidity_min": "501"}, "liquidity_out_of_range"),
        ({"liquidity_max": "499"}, "liquidity_out_of_range"),
        ({"holder_count_min": 51}, "holder_count_out_of_range"),
        ({"holder_count_max": 49}, "holder_count_out_of_range"),
    ],
)
def test_metric_bounds(bounds, reason):
    assert agent_skip_reason(_signal(), _facts({"signals": bounds})) == reason


def test_a_bound_on_an_unknown_metric_is_not_eligible_but_no_bound_needs_no_metric():
    unknown_holders = TokenMetrics(Decimal("1000"), Decimal("500"), None)
    facts = _facts({"signals": {"holder_count_min": 1}})
    assert agent_skip_reason(_signal(unknown_holders), facts) == "token_metrics_unknown"
    assert agent_skip_reason(_signal(None), facts) == "token_metrics_unknown"
    assert agent_skip_reason(_signal(None), _facts()) is None
    assert (
        agent_skip_reason(_signal(unknown_holders), _facts({"signals": {"liquidity_min": 1}}))
        is None
    )


def test_the_kill_switch_comes_first_then_the_agents_own_state():
    inactive = _facts(is_active=False)
    assert agent_skip_reason(_signal(kill_switch="halt"), inactive) == "kill_switch_halt"
    assert agent_skip_reason(_signal(kill_switch="reduce_only"), _facts()) == (
        "kill_switch_reduce_only"
    )
    assert agent_skip_reason(_signal(), inactive) == "agent_inactive"


def test_a_paused_agent_is_reported_paused_whatever_the_signal():
    pause = {"pause_id": 7, "reason": "daily_loss_limit", "until": "2026-03-11T00:00:00+00:00"}
    facts = _facts({"signals": {"min_score": 5}}, pause=pause)
    assert agent_skip_reason(_signal(strength=1), facts) == "risk_paused"
    assert skip_details("risk_paused", _signal(), facts) == pause


def test_positions_and_balance_come_after_the_signal_filters():
    facts = _facts({"risk": {"max_open_positions": 1}}, open_tokens=["other"], balance="0.2")
    assert agent_skip_reason(_signal(), facts) == "max_open_positions"
    assert skip_details("max_open_positions", _signal(), facts) == {
        "open_positions": 1,
        "max_open_positions": 1,
    }
    assert agent_skip_reason(_signal(), _facts(balance="0.2")) == "insufficient_balance"


def test_metric_details_name_the_value_and_the_bounds():
    facts = _facts({"signals": {"liquidity_min": "600", "market_cap_max": "5000"}})
    details = skip_details("liquidity_out_of_range", _signal(), facts)
    assert details == {
        "market_cap": {"value": "1000", "min": None, "max": "5000"},
        "liquidity_usd": {"value": "500", "min": "600", "max": None},
    }


def test_metric_bounds_set_sees_any_bound():
    assert not metric_bounds_set(effective_config({}))
    assert metric_bounds_set(effective_config({"signals": {"holder_count_max": 10}}))
