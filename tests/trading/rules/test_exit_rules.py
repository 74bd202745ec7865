"""The one list of exit rules: each rule brings its config section (in the rules' config and
in the agent config schema), the action kinds it decides, and its own quiet range; a rule that
cannot say where it is quiet makes the position evaluated in full on every tick."""

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from agents.config import AgentConfig
from tests.trading.rules.test_tick import position
from trading.rules import quiet
from trading.rules.config import RuleConfig
from trading.rules.exits import ActionKind, CloseReason
from trading.rules.quiet import quiet_range
from trading.rules.tick import EXIT_RULES

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_every_rule_has_its_section_in_the_rules_config_and_in_the_agent_schema():
    rule_sections = {field.name for field in dataclasses.fields(RuleConfig)}
    for rule in EXIT_RULES:
        assert rule.section in rule_sections, rule
        assert rule.section in AgentConfig.model_fields, rule


def test_every_action_kind_is_decided_by_exactly_one_rule():
    kinds = [kind for rule in EXIT_RULES for kind in rule.kinds]
    assert sorted(kinds) == sorted(ActionKind)


def test_every_sale_records_the_close_reason_of_its_kind():
    assert ActionKind.STOP_LOSS_SELL.close_reason == CloseReason.STOP_LOSS
    assert ActionKind.STALE_SELL.close_reason == CloseReason.STALE_TRADE
    assert ActionKind.TAKE_PROFIT_SELL.close_reason == CloseReason.TAKE_PROFIT
    assert ActionKind.DCA_BUY.close_reason is None
    assert {kind for kind in ActionKind if kind.sells_everything} == {
        ActionKind.STOP_LOSS_SELL,
        ActionKind.STALE_SELL,
    }


class _Unsure:
    """A rule that cannot say where it is quiet."""

    section = "stale_trade"
    kinds = ()

    def apply(self, config, tick):
        pass

    def quiet(self, config, state, price, now):
        return None


def test_a_rule_without_a_quiet_range_keeps_the_position_evaluated(monkeypatch):
    average = position().purchase_price
    state = position(
        opened_at=NOW - timedelta(minutes=5),
        peak_price=average * Decimal("1.05"),
        lowest_price=average * Decimal("0.9"),
    )
    price = average * Decimal("0.99")
    assert quiet_range(RuleConfig(), state, price, NOW) is not None  # quiet with the real rules

    monkeypatch.setattr(quiet, "EXIT_RULES", (*EXIT_RULES, _Unsure()))

    assert quiet_range(RuleConfig(), state, price, NOW) is None
