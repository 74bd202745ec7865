"""The agent configuration contract of trading-rules.md section 1: defaults, bounds, the custom
take-profit rules and the storage semantics (deep merge, arrays replace, null resets)."""

import copy
import json
from decimal import Decimal

import pytest

from agents.config import (
    DEFAULT_CONFIG,
    AgentConfig,
    ConfigValidationError,
    config_json_schema,
    effective_config,
    effective_config_json,
    merge_overrides,
    to_rule_config,
    validate_overrides,
)

WSOL = "So11111111111111111111111111111111111111112"
USDC = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"

SPEC_DEFAULTS = {
    "purchase_limits": {
        "minimum_agent_balance": "0.5",
        "max_purchase_per_token": "2.0",
        "max_price_impact": "0.05",
    },
    "signals": {
        "decision_source": "posted",
        "min_score": 1,
        "allowed_signal_types": [],
        "token_filter_mode": "none",
        "token_list": [],
        "market_cap_min": None,
        "market_cap_max": None,
        "liquidity_min": None,
        "liquidity_max": None,
        "holder_count_min": None,
        "holder_count_max": None,
    },
    "stop_loss": {
        "enabled": True,
        "default_percentage": "-32",
        "mode": "fixed",
        "trailing_levels": [],
    },
    "position_sizing": {
        "balance_thresholds": {"minimum": "0.2", "medium": "5", "large": "10"},
        "sizes": {"small": ["0.1", "0.1"], "medium": ["0.5", "1.0"], "large": ["1.5", "2.0"]},
        "randomization": True,
    },
    "stale_trade": {
        "enabled": True,
        "min_hold_minutes": 60,
        "min_profit_percent": "1",
        "max_profit_percent": "10",
    },
    "dca": {
        "enabled": False,
        "mode": "moderate",
        "levels": [],
        "max_dca_count": 3,
        "cooldown_seconds": 30,
    },
    "take_profit": {
        "enabled": False,
        "mode": "moderate",
        "levels": [],
        "moon_bag": {"enabled": True, "trigger_percent": "300", "retain_percent": "10"},
    },
    "risk": {
        "max_open_positions": 25,
        "daily_loss_limit_sol": None,
        "max_drawdown_percent": None,
        "cooldown_after_stop_losses": None,
    },
    # Not in trading-rules.md: the AI strategist's (issue 16, docs/configuration.md).
    "ai_strategist": {
        "period_minutes": 3,
        "max_candidates": 50,
        "use_token_boosts": False,
        "candidate_liquidity_min_usd": None,
        "candidate_market_cap_min_usd": None,
        "max_position_sol": "0.5",
        "max_position_equity_percent": "20",
        "min_reward_risk": "2",
        "daily_token_budget": 500000,
        "daily_cost_budget_usd": None,
        "timeout_seconds": 60,
        "price_history_minutes": 120,
        "feedback_trades": 10,
    },
}


def at(path: str, value) -> dict:
    """The overrides that set one dotted path, e.g. at("risk.max_open_positions", 3)."""
    *parents, leaf = path.split(".")
    overrides = {leaf: value}
    for key in reversed(parents):
        overrides = {key: overrides}
    return overrides


def bad_fields(overrides: dict) -> dict[str, str]:
    with pytest.raises(ConfigValidationError) as caught:
        validate_overrides(overrides)
    return {detail["field"]: detail["message"] for detail in caught.value.details}


def tp_level(target, sell) -> dict:
    return {"target_percent": target, "sell_percent": sell}


def custom_take_profit(*levels, **moon_bag) -> dict:
    section = {"mode": "custom", "levels": list(levels)}
    if moon_bag:
        section["moon_bag"] = moon_bag
    return {"take_profit": section}


# --- defaults -------------------------------------------------------------------------------


def test_defaults_are_the_documented_ones():
    assert DEFAULT_CONFIG == SPEC_DEFAULTS


def test_default_config_is_plain_json():
    assert json.loads(json.dumps(DEFAULT_CONFIG)) == DEFAULT_CONFIG


def test_empty_overrides_yield_the_defaults():
    assert effective_config_json({}) == DEFAULT_CONFIG
    assert effective_config({}) == AgentConfig()


def test_defaults_round_trip_to_no_overrides():
    assert validate_overrides(copy.deepcopy(DEFAULT_CONFIG)) == {}


def test_values_equal_to_the_defaults_are_not_stored():
    stored = validate_overrides(
        {"stop_loss": {"default_percentage": "-32.00", "mode": "zones"}, "dca": {"enabled": False}}
    )
    assert stored == {"stop_loss": {"mode": "zones"}}


def test_effective_config_is_typed_and_immutable():
    config = effective_config(at("purchase_limits.max_purchase_per_token", "3"))
    assert config.purchase_limits.max_purchase_per_token == Decimal(3)
    assert config.stop_loss.default_percentage == Decimal(-32)
    with pytest.raises(ValueError):
        config.purchase_limits.max_purchase_per_token = Decimal(9)


# --- bounds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (at("purchase_limits.minimum_agent_balance", "0.09"), None),
        (at("purchase_limits.max_purchase_per_token", 0), None),
        (at("purchase_limits.max_price_impact", 0), None),
        (at("purchase_limits.max_price_impact", "1.01"), None),
        (at("signals.min_score", 0), None),
        (at("signals.min_score", 6), None),
        (at("signals.min_score", 2.5), None),
        (at("signals.min_score", True), None),
        (at("signals.allowed_signal_types", [""]), "signals.allowed_signal_types[0]"),
        (at("signals.allowed_signal_types", ["x" * 51]), "signals.allowed_signal_types[0]"),
        (at("signals.token_filter_mode", "all"), None),
        (at("signals.token_list", [WSOL, "not-a-mint"]), "signals.token_list[1]"),
        (at("signals.token_list", ["1" * 44]), "signals.token_list[0]"),
        (at("signals.market_cap_min", -1), None),
        (at("signals.liquidity_max", "-0.01"), None),
        (at("signals.holder_count_min", -1), None),
        (at("signals.holder_count_max", "many"), None),
        (at("stop_loss.enabled", "yes"), None),
        (at("stop_loss.default_percentage", "0.01"), None),
        (at("stop_loss.default_percentage", -101), None),
        (at("stop_loss.mode", "trailing"), None),
        (
            at("stop_loss.trailing_levels", [{"change": 0, "stop_loss": 10}]),
            "stop_loss.trailing_levels[0].change",
        ),
        (
            at("stop_loss.trailing_levels", [{"change": 10, "stop_loss": 0}]),
            "stop_loss.trailing_levels[0].stop_loss",
        ),
        (
            at("stop_loss.trailing_levels", [{"change": 10, "stop_loss": "1000.1"}]),
            "stop_loss.trailing_levels[0].stop_loss",
        ),
        (at("position_sizing.balance_thresholds.minimum", -1), None),
        (at("position_sizing.sizes.small", [0, "0.1"]), "position_sizing.sizes.small[0]"),
        (at("position_sizing.sizes.large", ["1.5"]), "position_sizing.sizes.large[1]"),
        (at("position_sizing.randomization", 1), None),
        (at("stale_trade.min_hold_minutes", -1), None),
        (at("stale_trade.min_profit_percent", -101), None),
        (at("dca.mode", "yolo"), None),
        (at("dca.levels", [{"drop_percent": 0, "buy_percent": 50}]), "dca.levels[0].drop_percent"),
        (
            at("dca.levels", [{"drop_percent": -100, "buy_percent": 50}]),
            "dca.levels[0].drop_percent",
        ),
        (at("dca.levels", [{"drop_percent": -5, "buy_percent": 0}]), "dca.levels[0].buy_percent"),
        (
            at("dca.levels", [{"drop_percent": -5, "buy_percent": 501}]),
            "dca.levels[0].buy_percent",
        ),
        (at("dca.max_dca_count", 0), None),
        (at("dca.max_dca_count", 11), None),
        (at("dca.cooldown_seconds", 9), None),
        (at("dca.cooldown_seconds", 3601), None),
        (at("take_profit.levels", [tp_level(0, 10)]), "take_profit.levels[0].target_percent"),
        (at("take_profit.levels", [tp_level(10001, 10)]), "take_profit.levels[0].target_percent"),
        (at("take_profit.levels", [tp_level(50, 0)]), "take_profit.levels[0].sell_percent"),
        (at("take_profit.levels", [tp_level(50, 101)]), "take_profit.levels[0].sell_percent"),
        (at("take_profit.moon_bag.retain_percent", 0), None),
        (at("take_profit.moon_bag.retain_percent", 51), None),
        (at("take_profit.moon_bag.trigger_percent", 0), None),
        (at("risk.max_open_positions", 0), None),
        (at("risk.daily_loss_limit_sol", 0), None),
        (at("risk.max_drawdown_percent", 0), None),
        (at("risk.max_drawdown_percent", "100.5"), None),
        (
            at(
                "risk.cooldown_after_stop_losses",
                {"count": 0, "window_minutes": 5, "pause_minutes": 5},
            ),
            "risk.cooldown_after_stop_losses.count",
        ),
        (
            at(
                "risk.cooldown_after_stop_losses",
                {"count": 2, "window_minutes": 0, "pause_minutes": 5},
            ),
            "risk.cooldown_after_stop_losses.window_minutes",
        ),
        (
            at(
                "risk.cooldown_after_stop_losses",
                {"count": 2, "window_minutes": 5, "pause_minutes": 0},
            ),
            "risk.cooldown_after_stop_losses.pause_minutes",
        ),
    ],
)
def test_out_of_bounds_value_is_rejected_naming_its_field(overrides, field):
    expected = field or ".".join(_leaf_path(overrides))
    assert list(bad_fields(overrides)) == [expected]


def _leaf_path(overrides: dict) -> list[str]:
    key, value = next(iter(overrides.items()))
    return [key, *_leaf_path(value)] if isinstance(value, dict) else [key]


@pytest.mark.parametrize(
    "overrides",
    [
        at("purchase_limits.minimum_agent_balance", "0.1"),
        at("purchase_limits.max_price_impact", 1),
        at("signals.min_score", 5),
        at("signals.min_score", "3"),
        at("signals.token_list", [WSOL, USDC]),
        at("stop_loss.default_percentage", -100),
        at("stop_loss.default_percentage", 0),
        at("stop_loss.trailing_levels", [{"change": "0.001", "stop_loss": 1000}]),
        at("stale_trade.min_profit_percent", -5),
        at("dca.levels", [{"drop_percent": -99, "buy_percent": 1}]),
        at("dca.levels", [{"drop_percent": -1, "buy_percent": 500}]),
        at("dca.max_dca_count", 10),
        at("dca.cooldown_seconds", 10),
        at("dca.cooldown_seconds", 3600),
        at("take_profit.moon_bag.retain_percent", 50),
        at("risk.max_drawdown_percent", 100),
        at(
            "risk.cooldown_after_stop_losses", {"count": 1, "window_minutes": 1, "pause_minutes": 1}
        ),
    ],
)
def test_value_on_the_bound_is_accepted(overrides):
    validate_overrides(overrides)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"signals": {"market_cap_min": 10, "market_cap_max": 9}}, "signals.market_cap_max"),
        ({"signals": {"liquidity_min": "5.5", "liquidity_max": 5}}, "signals.liquidity_max"),
        (
            {"signals": {"holder_count_min": 100, "holder_count_max": 99}},
            "signals.holder_count_max",
        ),
        (
            {"stale_trade": {"min_profit_percent": 5, "max_profit_percent": 4}},
            "stale_trade.max_profit_percent",
        ),
        (
            at("position_sizing.balance_thresholds", {"minimum": 5, "medium": 5}),
            "position_sizing.balance_thresholds.medium",
        ),
        (
            at("position_sizing.balance_thresholds.large", 4),
            "position_sizing.balance_thresholds.large",
        ),
        (at("position_sizing.sizes.medium", [2, 1]), "position_sizing.sizes.medium"),
    ],
)
def test_inverted_range_is_rejected_naming_its_field(overrides, field):
    assert list(bad_fields(overrides)) == [field]


def test_equal_ends_of_a_range_are_accepted():
    validate_overrides(
        {
            "signals": {"market_cap_min": 10, "market_cap_max": 10},
            "stale_trade": {"min_profit_percent": -3, "max_profit_percent": -3},
            "position_sizing": {"sizes": {"large": [3, 3]}},
        }
    )


def test_unknown_keys_are_rejected():
    fields = bad_fields({"stop_loss": {"percentage": -10}, "leverage": 5})
    assert fields == {"stop_loss.percentage": "unknown field", "leverage": "unknown field"}


def test_a_section_that_is_not_an_object_is_rejected():
    assert list(bad_fields({"stop_loss": 5})) == ["stop_loss"]


@pytest.mark.parametrize("not_an_object", [[], "x", None])
def test_config_that_is_not_an_object_is_rejected(not_an_object):
    with pytest.raises(ConfigValidationError) as caught:
        validate_overrides(not_an_object)
    assert caught.value.details == [{"field": "", "message": "must be a JSON object"}]


def test_every_bad_field_is_reported_at_once():
    fields = bad_fields(
        {
            "purchase_limits": {"max_purchase_per_token": -1},
            "signals": {
                "token_list": ["nope"],
                "market_cap_min": 10,
                "market_cap_max": 1,
                "colour": "red",
            },
            "stop_loss": {"default_percentage": 5, "enabled": "sometimes"},
            "position_sizing": {"sizes": {"small": [2, 1], "large": [1, "x"]}},
            "dca": {"cooldown_seconds": 1},
            "take_profit": {"levels": [tp_level(50, 10), tp_level(40, 10)], "mode": "custom"},
            "risk": {"cooldown_after_stop_losses": {"count": 2}},
        }
    )
    assert set(fields) == {
        "purchase_limits.max_purchase_per_token",
        "signals.token_list[0]",
        "signals.market_cap_max",
        "signals.colour",
        "stop_loss.default_percentage",
        "stop_loss.enabled",
        "position_sizing.sizes.small",
        "position_sizing.sizes.large[1]",
        "dca.cooldown_seconds",
        "take_profit.levels[1].target_percent",
        "risk.cooldown_after_stop_losses.window_minutes",
        "risk.cooldown_after_stop_losses.pause_minutes",
    }


def test_every_message_is_a_non_empty_string():
    with pytest.raises(ConfigValidationError) as caught:
        validate_overrides({"dca": {"max_dca_count": 0}, "risk": {"max_open_positions": 0}})
    assert all(isinstance(d["message"], str) and d["message"] for d in caught.value.details)


# --- custom take profit ---------------------------------------------------------------------


def test_valid_custom_take_profit_is_accepted():
    overrides = custom_take_profit(tp_level(20, 30), tp_level(80, 30), tp_level(300, 30))
    assert validate_overrides(overrides)["take_profit"]["levels"][2] == {
        "target_percent": "300",
        "sell_percent": "30",
    }


def test_custom_take_profit_needs_a_level():
    assert bad_fields(custom_take_profit()) == {
        "take_profit.levels": "custom mode needs at least one level"
    }


def test_custom_take_profit_targets_must_strictly_ascend():
    fields = bad_fields(
        custom_take_profit(tp_level(50, 10), tp_level(50, 10), tp_level(400, 10), tp_level(300, 10))
    )
    assert set(fields) == {
        "take_profit.levels[1].target_percent",
        "take_profit.levels[3].target_percent",
    }


def test_custom_take_profit_sells_plus_moon_bag_may_not_exceed_100():
    overrides = custom_take_profit(tp_level(100, 45), tp_level(300, 46), retain_percent=10)
    assert list(bad_fields(overrides)) == ["take_profit.levels"]


def test_custom_take_profit_sells_plus_moon_bag_may_equal_100():
    validate_overrides(custom_take_profit(tp_level(100, 45), tp_level(300, 45), retain_percent=10))


def test_disabled_moon_bag_retains_nothing():
    validate_overrides(custom_take_profit(tp_level(100, 50), tp_level(300, 50), enabled=False))


def test_custom_take_profit_sells_alone_may_not_exceed_100():
    overrides = custom_take_profit(tp_level(100, 60), tp_level(300, 41), enabled=False)
    assert list(bad_fields(overrides)) == ["take_profit.levels"]


def test_moon_bag_trigger_may_not_pass_the_last_target():
    overrides = custom_take_profit(tp_level(50, 25), tp_level(200, 25), trigger_percent="200.01")
    assert list(bad_fields(overrides)) == ["take_profit.levels[1].target_percent"]


def test_moon_bag_trigger_may_equal_the_last_target():
    validate_overrides(custom_take_profit(tp_level(50, 25), tp_level(200, 25), trigger_percent=200))


def test_custom_take_profit_allows_at_most_ten_levels():
    levels = [tp_level(10 * (i + 1), 5) for i in range(11)]
    overrides = custom_take_profit(*levels, trigger_percent=50)
    assert list(bad_fields(overrides)) == ["take_profit.levels"]
    validate_overrides(custom_take_profit(*levels[:10], trigger_percent=50))


def test_all_broken_take_profit_rules_are_reported_together():
    overrides = custom_take_profit(tp_level(50, 60), tp_level(40, 35))
    assert set(bad_fields(overrides)) == {
        "take_profit.levels[1].target_percent",
        "take_profit.levels",
    }


# --- presets --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["aggressive", "moderate", "conservative"])
def test_preset_take_profit_ignores_stale_custom_levels(mode):
    stale = [tp_level(300, 60), tp_level(100, 60)]
    stored = validate_overrides({"take_profit": {"mode": mode, "levels": stale}})
    assert effective_config(stored).take_profit.mode == mode


def test_switching_back_to_a_preset_keeps_working_after_the_moon_bag_changes():
    stored = validate_overrides(custom_take_profit(tp_level(100, 50), tp_level(300, 40)))
    stored = validate_overrides(
        merge_overrides(
            stored, {"take_profit": {"mode": "moderate", "moon_bag": {"retain_percent": 50}}}
        )
    )
    assert stored["take_profit"]["moon_bag"] == {"retain_percent": "50"}


@pytest.mark.parametrize("mode", ["aggressive", "moderate", "conservative", "custom"])
def test_dca_levels_are_accepted_in_any_mode(mode):
    levels = [{"drop_percent": -10, "buy_percent": 50}, {"drop_percent": -30, "buy_percent": 100}]
    config = effective_config({"dca": {"mode": mode, "levels": levels}})
    assert config.dca.levels[1].drop_percent == Decimal(-30)


# --- merging --------------------------------------------------------------------------------


def test_objects_merge_key_by_key():
    stored = {"stop_loss": {"mode": "zones"}, "dca": {"enabled": True}}
    merged = merge_overrides(stored, {"stop_loss": {"default_percentage": -20}})
    assert merged == {
        "stop_loss": {"mode": "zones", "default_percentage": -20},
        "dca": {"enabled": True},
    }


def test_arrays_replace_whole():
    stored = validate_overrides(at("signals.token_list", [WSOL, USDC]))
    merged = merge_overrides(stored, at("signals.token_list", [USDC]))
    assert effective_config_json(merged)["signals"]["token_list"] == [USDC]


def test_arrays_replace_the_default_too():
    merged = merge_overrides({}, at("position_sizing.sizes.small", ["0.2", "0.3"]))
    sizes = effective_config_json(merged)["position_sizing"]["sizes"]
    assert sizes == {"small": ["0.2", "0.3"], "medium": ["0.5", "1.0"], "large": ["1.5", "2.0"]}


def test_null_clears_an_optional_bound_that_has_a_default():
    stored = validate_overrides(merge_overrides({}, at("purchase_limits.max_price_impact", None)))
    assert stored == {"purchase_limits": {"max_price_impact": None}}
    assert effective_config(stored).purchase_limits.max_price_impact is None


def test_null_clears_an_optional_bound_set_earlier():
    stored = validate_overrides({"signals": {"market_cap_min": 1000, "market_cap_max": 5000}})
    stored = validate_overrides(merge_overrides(stored, at("signals.market_cap_max", None)))
    assert stored == {"signals": {"market_cap_min": "1000"}}
    assert effective_config(stored).signals.market_cap_max is None


def test_null_clears_the_stop_loss_cooldown():
    cooldown = {"count": 3, "window_minutes": 60, "pause_minutes": 120}
    stored = validate_overrides(at("risk.cooldown_after_stop_losses", cooldown))
    stored = validate_overrides(
        merge_overrides(stored, at("risk.cooldown_after_stop_losses", None))
    )
    assert stored == {}


def test_null_on_a_required_key_resets_it_to_the_default():
    stored = validate_overrides({"stop_loss": {"default_percentage": -10, "mode": "zones"}})
    merged = merge_overrides(stored, at("stop_loss.default_percentage", None))
    assert merged == {"stop_loss": {"mode": "zones"}}
    assert effective_config(merged).stop_loss.default_percentage == Decimal(-32)


def test_null_on_a_section_resets_the_section():
    stored = validate_overrides(
        {"dca": {"enabled": True, "max_dca_count": 5}, "risk": {"max_open_positions": 3}}
    )
    assert merge_overrides(stored, {"dca": None}) == {"risk": {"max_open_positions": 3}}


def test_null_on_an_unknown_key_is_reported():
    merged = merge_overrides({}, at("stop_loss.trailing", None))
    assert bad_fields(merged) == {"stop_loss.trailing": "unknown field"}


def test_resetting_everything_yields_the_defaults():
    stored = validate_overrides({"stop_loss": {"mode": "zones"}, "dca": {"enabled": True}})
    assert effective_config_json(merge_overrides({}, {})) == DEFAULT_CONFIG
    assert validate_overrides(merge_overrides(stored, {"stop_loss": None, "dca": None})) == {}


def test_merge_leaves_its_inputs_alone():
    stored = {"signals": {"token_list": [WSOL]}, "stop_loss": {"mode": "zones"}}
    patch = {"signals": {"token_list": [USDC]}, "stop_loss": {"mode": None}}
    before = copy.deepcopy((stored, patch))
    merge_overrides(stored, patch)
    assert (stored, patch) == before


def test_invalid_patch_raises_before_anything_is_stored():
    stored = validate_overrides({"stop_loss": {"mode": "zones"}})
    snapshot = copy.deepcopy(stored)
    with pytest.raises(ConfigValidationError):
        validate_overrides(
            merge_overrides(stored, {"stop_loss": {"mode": "fixed", "default_percentage": 5}})
        )
    assert stored == snapshot


# --- Decimal exactness ----------------------------------------------------------------------


def test_decimal_digits_survive():
    exact = "0.123456789123456789"
    stored = validate_overrides(at("purchase_limits.max_price_impact", exact))
    assert stored == {"purchase_limits": {"max_price_impact": exact}}
    assert effective_config(stored).purchase_limits.max_price_impact == Decimal(exact)
    assert effective_config_json(stored)["purchase_limits"]["max_price_impact"] == exact


def test_decimal_input_is_kept_exactly():
    value = Decimal("1.000000000000000000000000000001")
    config = effective_config(at("purchase_limits.max_purchase_per_token", value))
    assert config.purchase_limits.max_purchase_per_token == value


def test_float_input_is_read_by_its_repr_not_its_binary_value():
    config = effective_config(at("purchase_limits.max_purchase_per_token", 0.1))
    assert config.purchase_limits.max_purchase_per_token == Decimal("0.1")


def test_custom_take_profit_sum_is_exact():
    third = "33.333333333333333333333333333334"
    overrides = custom_take_profit(
        tp_level(10, third), tp_level(20, third), tp_level(30, third), enabled=False
    )
    assert list(bad_fields(overrides)) == ["take_profit.levels"]


@pytest.mark.parametrize(
    "value", ["NaN", "Infinity", "-inf", "1e40", "1e-31", "one", "", [1], True]
)
def test_non_numbers_and_absurd_magnitudes_are_rejected(value):
    assert list(bad_fields(at("signals.market_cap_max", value))) == ["signals.market_cap_max"]


def test_decimals_are_written_in_plain_notation():
    stored = validate_overrides(at("signals.market_cap_max", "1.5E+6"))
    assert stored == {"signals": {"market_cap_max": "1500000"}}


# --- JSON Schema ----------------------------------------------------------------------------


def test_json_schema_describes_every_section():
    schema = config_json_schema()
    assert schema["type"] == "object"
    assert set(schema["properties"]) == set(SPEC_DEFAULTS)
    assert schema["additionalProperties"] is False
    assert json.loads(json.dumps(schema)) == schema


def test_json_schema_carries_bounds_and_defaults():
    defs = config_json_schema()["$defs"]
    max_dca_count = defs["DcaConfig"]["properties"]["max_dca_count"]
    assert (max_dca_count["minimum"], max_dca_count["maximum"], max_dca_count["default"]) == (
        1,
        10,
        3,
    )
    mode = defs["StopLossConfig"]["properties"]["mode"]
    assert set(mode["enum"]) == {"fixed", "exponential", "zones", "custom"}


# --- rule config ----------------------------------------------------------------------------


def test_rule_config_carries_every_value():
    rules = pytest.importorskip("trading.rules.config")
    config = effective_config(
        {
            "stop_loss": {"mode": "custom", "trailing_levels": [{"change": 20, "stop_loss": 5}]},
            "take_profit": {"mode": "custom", "levels": [tp_level(300, 50)], "enabled": True},
            "dca": {
                "enabled": True,
                "mode": "custom",
                "levels": [{"drop_percent": -15, "buy_percent": 80}],
            },
            "purchase_limits": {"max_price_impact": None},
            "position_sizing": {"randomization": False},
        }
    )
    rule_config = to_rule_config(config)
    assert rule_config == rules.RuleConfig(
        stop_loss=rules.StopLossConfig(
            enabled=True,
            default_percentage=Decimal(-32),
            mode="custom",
            trailing_levels=(rules.TrailingLevel(change=Decimal(20), stop_loss=Decimal(5)),),
        ),
        take_profit=rules.TakeProfitConfig(
            enabled=True,
            mode="custom",
            levels=(rules.TakeProfitLevel(target_percent=Decimal(300), sell_percent=Decimal(50)),),
            moon_bag=rules.MoonBagConfig(
                enabled=True, trigger_percent=Decimal(300), retain_percent=Decimal(10)
            ),
        ),
        dca=rules.DcaConfig(
            enabled=True,
            mode="custom",
            levels=(rules.DcaLevel(drop_percent=Decimal(-15), buy_percent=Decimal(80)),),
            max_dca_count=3,
            cooldown_seconds=30,
        ),
        stale_trade=rules.StaleTradeConfig(
            enabled=True,
            min_hold_minutes=60,
            min_profit_percent=Decimal(1),
            max_profit_percent=Decimal(10),
        ),
        sizing=rules.SizingConfig(
            minimum=Decimal("0.2"),
            medium=Decimal(5),
            large=Decimal(10),
            small_range=(Decimal("0.1"), Decimal("0.1")),
            medium_range=(Decimal("0.5"), Decimal("1.0")),
            large_range=(Decimal("1.5"), Decimal("2.0")),
            randomization=False,
        ),
        purchase_limits=rules.PurchaseLimits(
            minimum_agent_balance=Decimal("0.5"),
            max_purchase_per_token=Decimal(2),
            max_price_impact=None,
        ),
    )


def test_rule_config_leaves_stale_custom_levels_behind_in_preset_modes():
    pytest.importorskip("trading.rules.config")
    config = effective_config(
        {
            "take_profit": {"mode": "aggressive", "levels": [tp_level(300, 50)]},
            "dca": {"mode": "conservative", "levels": [{"drop_percent": -15, "buy_percent": 80}]},
            "stop_loss": {"mode": "zones", "trailing_levels": [{"change": 20, "stop_loss": 5}]},
        }
    )
    rule_config = to_rule_config(config)
    assert rule_config.take_profit.levels == ()
    assert rule_config.dca.levels == ()
    assert rule_config.stop_loss.trailing_levels == ()
    assert rule_config.take_profit.resolved()[0][0].target_percent == Decimal(25)
