"""The typed agent trading configuration (trading-rules.md section 1) and its storage rules.

`Agent.config` stores only the overrides; the effective config is `DEFAULT_CONFIG` deep-merged
with them (objects merge, arrays replace) and validated as a whole, so a bad value is never
half-applied. Every number is a Decimal: JSON numbers, numeric strings and Decimals are accepted,
a float is read through `str()` (its shortest repr), and JSON output carries Decimals as plain
strings, as api.md asks.

A rule between fields (min <= max, the custom take-profit rules) is checked on the later field
as soon as the fields it compares are valid, so one response names every bad field it can.

An API write is `validate_overrides(merge_overrides(agent.config, body))` for PATCH and
`validate_overrides(merge_overrides({}, body))` for PUT; the result is what gets stored.
Nothing here touches the database.
"""

import copy
import json
import types
import typing
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from solders.pubkey import Pubkey

from nexgent import inputs
from trading.rules import config as rules


def _parse_decimal(value: object) -> Decimal:
    try:
        return inputs.parse_number(value)
    except ValueError as problem:
        raise PydanticCustomError("decimal_parsing", str(problem)) from None


def _parse_integer(value: object) -> object:
    # Pydantic's lax int mode would read `true` as 1 (a min_score of 1, say) without a word.
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "must be an integer, not a boolean")
    # A JSON number arrives as Decimal; its size is checked before pydantic turns it into an
    # int, which for 1E+99999999 would take seconds and a lot of memory.
    if isinstance(value, Decimal):
        return _parse_decimal(value)
    return value


def _valid_mint(value: str) -> str:
    try:
        Pubkey.from_string(value)
    except ValueError:
        raise PydanticCustomError("mint_address", "is not a Solana mint address") from None
    return value


def _ordered_pair(pair: tuple[Decimal, Decimal]) -> tuple[Decimal, Decimal]:
    if pair[0] > pair[1]:
        raise PydanticCustomError("config_rule", "must be [min, max] with min <= max")
    return pair


# The bounds sit on the bare type, inside the parsing step, so the JSON Schema gets real
# `minimum` / `exclusiveMinimum` keywords rather than pydantic's fallback keys.
def _decimal(**bounds: Any) -> Any:
    return Annotated[
        Decimal,
        Field(**bounds),
        BeforeValidator(_parse_decimal),
        PlainSerializer(lambda number: format(number, "f"), return_type=str, when_used="json"),
    ]


# Every number has both bounds (nexgent.inputs): the schema tells a client the range, and
# nothing absurd (1e20 open positions) is stored as a setting.
SOL = inputs.MAX_SOL
USD = inputs.MAX_USD


def _integer(**bounds: Any) -> Any:
    return Annotated[int, Field(**bounds), BeforeValidator(_parse_integer)]


MintAddress = Annotated[StrictStr, Field(min_length=32, max_length=44), AfterValidator(_valid_mint)]
SignalType = Annotated[StrictStr, Field(min_length=1, max_length=50)]
SizeRange = Annotated[
    tuple[_decimal(gt=0, le=SOL), _decimal(gt=0, le=SOL)], AfterValidator(_ordered_pair)
]
LevelMode = Literal["aggressive", "moderate", "conservative", "custom"]


def _problem(loc: tuple[str | int, ...], message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("config_rule", message), loc=loc, input=value)


def _raise_problems(problems: list[InitErrorDetails]) -> None:
    """Several broken rules at once: raised as a ValidationError, pydantic prefixes each
    location with the path of the field being validated and keeps them all."""
    if problems:
        raise ValidationError.from_exception_data("AgentConfig", problems)


def _not_below(value: Any, info: ValidationInfo, other: str) -> Any:
    """`value` must be >= the earlier field `other`, when both are set and `other` is valid."""
    floor = info.data.get(other)
    if value is not None and floor is not None and value < floor:
        raise PydanticCustomError("config_rule", f"must be >= {other} ({floor})")
    return value


class _Section(BaseModel):
    # Frozen so one effective config can be shared without anyone changing it underneath.
    model_config = ConfigDict(extra="forbid", frozen=True)


class PurchaseLimitsConfig(_Section):
    minimum_agent_balance: _decimal(ge=Decimal("0.1"), le=SOL) = Decimal("0.5")
    max_purchase_per_token: _decimal(gt=0, le=SOL) = Decimal("2.0")
    # A limit of 0 would refuse every quote (impact >= limit), so it is not accepted; null
    # switches the check off instead.
    max_price_impact: _decimal(gt=0, le=1) | None = Decimal("0.05")


class SignalsConfig(_Section):
    # Where the agent's buys come from: signals posted to the API, its AI strategist, or both.
    decision_source: Literal["posted", "ai", "both"] = "posted"
    min_score: _integer(ge=1, le=5) = 1
    allowed_signal_types: tuple[SignalType, ...] = ()
    token_filter_mode: Literal["none", "blacklist", "whitelist"] = "none"
    token_list: tuple[MintAddress, ...] = ()
    market_cap_min: _decimal(ge=0, le=USD) | None = None
    market_cap_max: _decimal(ge=0, le=USD) | None = None
    liquidity_min: _decimal(ge=0, le=USD) | None = None
    liquidity_max: _decimal(ge=0, le=USD) | None = None
    holder_count_min: _integer(ge=0, le=inputs.MAX_COUNT) | None = None
    holder_count_max: _integer(ge=0, le=inputs.MAX_COUNT) | None = None

    @field_validator("market_cap_max", "liquidity_max", "holder_count_max")
    @classmethod
    def _max_not_below_min(cls, value: Any, info: ValidationInfo) -> Any:
        minimum = info.field_name.removesuffix("_max") + "_min"
        return _not_below(value, info, minimum)


class TrailingLevelConfig(_Section):
    change: _decimal(gt=0, le=inputs.MAX_PERCENT_CHANGE)
    stop_loss: _decimal(gt=0, le=1000)


class StopLossConfig(_Section):
    enabled: StrictBool = True
    default_percentage: _decimal(ge=-100, le=0) = Decimal(-32)
    mode: Literal["fixed", "exponential", "zones", "custom"] = "fixed"
    trailing_levels: tuple[TrailingLevelConfig, ...] = ()


_THRESHOLDS = ("minimum", "medium", "large")


class BalanceThresholdsConfig(_Section):
    minimum: _decimal(ge=0, le=SOL) = Decimal("0.2")
    medium: _decimal(gt=0, le=SOL) = Decimal(5)
    large: _decimal(gt=0, le=SOL) = Decimal(10)

    @field_validator("medium", "large")
    @classmethod
    def _strictly_increasing(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        # Compared with the nearest lower threshold that is itself valid.
        lower = [
            name for name in _THRESHOLDS[: _THRESHOLDS.index(info.field_name)] if name in info.data
        ]
        if lower and value <= info.data[lower[-1]]:
            floor = info.data[lower[-1]]
            raise PydanticCustomError("config_rule", f"must be greater than {lower[-1]} ({floor})")
        return value


class SizesConfig(_Section):
    small: SizeRange = (Decimal("0.1"), Decimal("0.1"))
    medium: SizeRange = (Decimal("0.5"), Decimal("1.0"))
    large: SizeRange = (Decimal("1.5"), Decimal("2.0"))


class PositionSizingConfig(_Section):
    balance_thresholds: BalanceThresholdsConfig = Field(default_factory=BalanceThresholdsConfig)
    sizes: SizesConfig = Field(default_factory=SizesConfig)
    randomization: StrictBool = True


class StaleTradeConfig(_Section):
    enabled: StrictBool = True
    min_hold_minutes: _integer(ge=0, le=inputs.MAX_MINUTES) = 60
    # A position cannot lose more than everything, so -100 is the floor of both ends.
    min_profit_percent: _decimal(ge=-100, le=inputs.MAX_PERCENT_CHANGE) = Decimal(1)
    max_profit_percent: _decimal(ge=-100, le=inputs.MAX_PERCENT_CHANGE) = Decimal(10)

    @field_validator("max_profit_percent")
    @classmethod
    def _range_ordered(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return _not_below(value, info, "min_profit_percent")


class DcaLevelConfig(_Section):
    drop_percent: _decimal(ge=-99, le=-1)
    buy_percent: _decimal(ge=1, le=500)


class DcaConfig(_Section):
    enabled: StrictBool = False
    mode: LevelMode = "moderate"
    levels: tuple[DcaLevelConfig, ...] = ()
    max_dca_count: _integer(ge=1, le=10) = 3
    cooldown_seconds: _integer(ge=10, le=3600) = 30


class TakeProfitLevelConfig(_Section):
    target_percent: _decimal(ge=1, le=10000)
    sell_percent: _decimal(ge=1, le=100)


class MoonBagConfig(_Section):
    enabled: StrictBool = True
    trigger_percent: _decimal(ge=1, le=10000) = Decimal(300)
    retain_percent: _decimal(ge=1, le=50) = Decimal(10)


def _total_sold(levels: tuple[TakeProfitLevelConfig, ...], moon_bag: MoonBagConfig) -> Decimal:
    retained = moon_bag.retain_percent if moon_bag.enabled else Decimal(0)
    with localcontext(prec=100):  # up to 30 decimal places per term: the sum must stay exact
        return sum((level.sell_percent for level in levels), start=retained)


class TakeProfitConfig(_Section):
    """Custom levels are checked only in custom mode: preset modes never read `levels`, so
    levels left from an earlier custom setup must not block a preset.

    `moon_bag` comes before `levels` so that the levels' check can see it and report every
    broken custom rule at once, even when the targets are out of order too.
    """

    enabled: StrictBool = False
    mode: LevelMode = "moderate"
    moon_bag: MoonBagConfig = Field(default_factory=MoonBagConfig)
    levels: tuple[TakeProfitLevelConfig, ...] = Field(default=(), max_length=10)

    @field_validator("levels")
    @classmethod
    def _custom_levels_valid(cls, levels: tuple, info: ValidationInfo) -> tuple:
        if info.data.get("mode") != "custom":
            return levels
        if not levels:
            raise PydanticCustomError("config_rule", "custom mode needs at least one level")
        problems = [
            _problem(
                (index, "target_percent"),
                "targets must be strictly ascending",
                level.target_percent,
            )
            for index, level in enumerate(levels[1:], start=1)
            if level.target_percent <= levels[index - 1].target_percent
        ]
        moon_bag = info.data.get("moon_bag")
        if moon_bag is not None:
            problems.extend(_moon_bag_problems(levels, moon_bag))
        _raise_problems(problems)
        return levels


def _moon_bag_problems(
    levels: tuple[TakeProfitLevelConfig, ...], moon_bag: MoonBagConfig
) -> list[InitErrorDetails]:
    problems = []
    total = _total_sold(levels, moon_bag)
    if total > 100:
        what = "plus the moon bag's retain_percent " if moon_bag.enabled else ""
        message = f"sell percentages {what}add up to {total}, over 100"
        problems.append(_problem((), message, total))
    last = len(levels) - 1
    # A disabled moon bag never triggers, so its trigger cannot conflict with the levels.
    if moon_bag.enabled and levels[last].target_percent < moon_bag.trigger_percent:
        message = f"the last target must be >= the moon bag's trigger_percent ({moon_bag.trigger_percent})"
        problems.append(_problem((last, "target_percent"), message, levels[last].target_percent))
    return problems


class StopLossCooldownConfig(_Section):
    count: _integer(ge=1, le=inputs.MAX_COUNT)
    window_minutes: _integer(ge=1, le=inputs.MAX_MINUTES)
    pause_minutes: _integer(ge=1, le=inputs.MAX_MINUTES)


class RiskConfig(_Section):
    max_open_positions: _integer(ge=1, le=inputs.MAX_OPEN_POSITIONS) = 25
    daily_loss_limit_sol: _decimal(gt=0, le=SOL) | None = None
    max_drawdown_percent: _decimal(gt=0, le=100) | None = None
    cooldown_after_stop_losses: StopLossCooldownConfig | None = None


class AiStrategistConfig(_Section):
    """The AI strategist's cycle (signals_app.strategist): how often, what it looks at, and the
    limits its decisions are held to. It runs only when signals.decision_source says "ai" or
    "both"; the model and its key are the operator's (Settings > AI strategist)."""

    period_minutes: _integer(ge=1, le=1440) = 3
    max_candidates: _integer(ge=1, le=200) = 50
    use_token_boosts: StrictBool = False
    candidate_liquidity_min_usd: _decimal(ge=0, le=USD) | None = None
    candidate_market_cap_min_usd: _decimal(ge=0, le=USD) | None = None
    max_position_sol: _decimal(gt=0, le=SOL) = Decimal("0.5")
    max_position_equity_percent: _decimal(gt=0, le=100) = Decimal(20)
    min_reward_risk: _decimal(ge=1, le=100) = Decimal(2)
    daily_token_budget: _integer(ge=1, le=inputs.MAX_COUNT) | None = 500_000
    daily_cost_budget_usd: _decimal(gt=0, le=USD) | None = None
    timeout_seconds: _integer(ge=1, le=300) = 60
    price_history_minutes: _integer(ge=5, le=inputs.MAX_MINUTES) = 120
    feedback_trades: _integer(ge=0, le=50) = 10


class AgentConfig(_Section):
    """The effective trading configuration of one agent."""

    purchase_limits: PurchaseLimitsConfig = Field(default_factory=PurchaseLimitsConfig)
    signals: SignalsConfig = Field(default_factory=SignalsConfig)
    stop_loss: StopLossConfig = Field(default_factory=StopLossConfig)
    position_sizing: PositionSizingConfig = Field(default_factory=PositionSizingConfig)
    stale_trade: StaleTradeConfig = Field(default_factory=StaleTradeConfig)
    dca: DcaConfig = Field(default_factory=DcaConfig)
    take_profit: TakeProfitConfig = Field(default_factory=TakeProfitConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    ai_strategist: AiStrategistConfig = Field(default_factory=AiStrategistConfig)


_DEFAULTS = AgentConfig()

#: The full default config, JSON-ready: Decimals as plain strings ("0.5"), as the API returns
#: them. Shared; treat it as read-only (the functions below never modify it).
DEFAULT_CONFIG: dict[str, Any] = _DEFAULTS.model_dump(mode="json")


class ConfigValidationError(ValueError):
    """The config is invalid. `details` names every bad field:
    [{"field": "take_profit.levels[1].target_percent", "message": "..."}]; a field of ""
    means the config as a whole."""

    def __init__(self, details: list[dict[str, str]]):
        super().__init__("invalid agent configuration")
        self.details = details


def merge_overrides(stored: dict, patch: dict) -> dict:
    """The stored overrides with a PATCH applied; neither argument is modified.

    - An object in the patch merges into the stored object key by key, recursively.
    - Any other value (arrays included) replaces the stored value whole.
    - `null` on a nullable key (an optional bound such as `signals.market_cap_max` or
      `purchase_limits.max_price_impact`) is stored as null: the bound is cleared in the
      effective config, even where the default sets one.
    - `null` on any other known key removes it from the overrides, so it (or a whole section)
      falls back to its default.
    - `null` on an unknown key is kept, so validation reports the key.

    The result is not validated; pass it to `validate_overrides` before storing it.
    """
    _require_object(stored)
    _require_object(patch)
    return _apply_patch(copy.deepcopy(stored), patch, ())


def validate_overrides(overrides: dict) -> dict:
    """Validates the defaults merged with `overrides` and returns the overrides to store: only
    the values that differ from the defaults, JSON-ready with Decimals as strings.

    Raises ConfigValidationError naming every bad field.
    """
    config = effective_config(overrides)
    return _jsonable(_difference(config.model_dump(), _DEFAULTS.model_dump()))


def effective_config(overrides: dict) -> AgentConfig:
    """The defaults deep-merged with `overrides`, validated. Raises ConfigValidationError."""
    _require_object(overrides)
    try:
        return AgentConfig.model_validate(_deep_merge(DEFAULT_CONFIG, overrides))
    except ValidationError as error:
        raise ConfigValidationError([_detail(item) for item in error.errors()]) from None


def effective_config_json(overrides: dict) -> dict:
    """The effective config as the API returns it: JSON-ready, Decimals as plain strings."""
    return effective_config(overrides).model_dump(mode="json")


def config_json_schema() -> dict:
    """JSON Schema of the full config with its defaults and per-field bounds. Rules between
    fields (min <= max, the custom take-profit rules) are enforced by validation only."""
    return AgentConfig.model_json_schema()


# Enough for every distinct agent configuration of a busy engine.
_CACHED_CONFIGS = 1024


def agent_config(overrides: dict) -> AgentConfig:
    """The effective config of stored overrides, built once per distinct overrides: agents
    often share one, and it is read for every agent on every signal. Raises
    ConfigValidationError."""
    return _config_of(json.dumps(overrides, sort_keys=True))


def agent_rules(overrides: dict):
    """The pure rules' config (`trading.rules.config.RuleConfig`) of stored overrides: the one
    way an agent's configuration becomes rules, built once per distinct overrides."""
    return _rules_of(json.dumps(overrides, sort_keys=True))


@lru_cache(maxsize=_CACHED_CONFIGS)
def _config_of(overrides_json: str) -> AgentConfig:
    return effective_config(json.loads(overrides_json))


@lru_cache(maxsize=_CACHED_CONFIGS)
def _rules_of(overrides_json: str):
    return to_rule_config(_config_of(overrides_json))


def to_rule_config(cfg: AgentConfig):
    """The pure-rule dataclasses of `trading.rules.config` for one effective config. Preset
    modes get no levels: the rules resolve presets from `mode`, and stale custom levels must
    not leak into them."""
    stop_loss, take_profit, dca = cfg.stop_loss, cfg.take_profit, cfg.dca
    thresholds, sizes = cfg.position_sizing.balance_thresholds, cfg.position_sizing.sizes
    return rules.RuleConfig(
        stop_loss=rules.StopLossConfig(
            enabled=stop_loss.enabled,
            default_percentage=stop_loss.default_percentage,
            mode=stop_loss.mode,
            trailing_levels=tuple(
                rules.TrailingLevel(change=level.change, stop_loss=level.stop_loss)
                for level in _custom_levels(stop_loss.mode, stop_loss.trailing_levels)
            ),
        ),
        take_profit=rules.TakeProfitConfig(
            enabled=take_profit.enabled,
            mode=take_profit.mode,
            levels=tuple(
                rules.TakeProfitLevel(
                    target_percent=level.target_percent, sell_percent=level.sell_percent
                )
                for level in _custom_levels(take_profit.mode, take_profit.levels)
            ),
            moon_bag=rules.MoonBagConfig(
                enabled=take_profit.moon_bag.enabled,
                trigger_percent=take_profit.moon_bag.trigger_percent,
                retain_percent=take_profit.moon_bag.retain_percent,
            ),
        ),
        dca=rules.DcaConfig(
            enabled=dca.enabled,
            mode=dca.mode,
            levels=tuple(
                rules.DcaLevel(drop_percent=level.drop_percent, buy_percent=level.buy_percent)
                for level in _custom_levels(dca.mode, dca.levels)
            ),
            max_dca_count=dca.max_dca_count,
            cooldown_seconds=dca.cooldown_seconds,
        ),
        stale_trade=rules.StaleTradeConfig(
            enabled=cfg.stale_trade.enabled,
            min_hold_minutes=cfg.stale_trade.min_hold_minutes,
            min_profit_percent=cfg.stale_trade.min_profit_percent,
            max_profit_percent=cfg.stale_trade.max_profit_percent,
        ),
        sizing=rules.SizingConfig(
            minimum=thresholds.minimum,
            medium=thresholds.medium,
            large=thresholds.large,
            small_range=sizes.small,
            medium_range=sizes.medium,
            large_range=sizes.large,
            randomization=cfg.position_sizing.randomization,
        ),
        purchase_limits=rules.PurchaseLimits(
            minimum_agent_balance=cfg.purchase_limits.minimum_agent_balance,
            max_purchase_per_token=cfg.purchase_limits.max_purchase_per_token,
            max_price_impact=cfg.purchase_limits.max_price_impact,
        ),
    )


def _custom_levels(mode: str, levels: tuple) -> tuple:
    return levels if mode == "custom" else ()


def _require_object(value: object) -> None:
    if not isinstance(value, dict):
        raise ConfigValidationError([{"field": "", "message": "must be a JSON object"}])


def _apply_patch(target: dict, patch: dict, path: tuple[str, ...]) -> dict:
    for key, value in patch.items():
        key_path = (*path, key)
        if value is None and not _null_is_kept(key_path):
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            target[key] = _apply_patch(
                current if isinstance(current, dict) else {}, value, key_path
            )
        else:
            target[key] = copy.deepcopy(value)
    return target


def _null_is_kept(path: tuple[str, ...]) -> bool:
    model: type[BaseModel] | None = AgentConfig
    annotation: object = None
    for key in path:
        field = model.model_fields.get(key) if model else None
        if field is None:
            return True  # unknown key: keep it so that validation names it
        annotation = field.annotation
        model = _model_in(annotation)
    return type(None) in typing.get_args(annotation)


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The section model a field holds, directly or as `Model | None`."""
    options = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    for option in options:
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def _is_union(annotation: object) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _deep_merge(base: object, override: object) -> object:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base.get(key), value)
        return merged
    return copy.deepcopy(override)


def _difference(values: dict, defaults: dict) -> dict:
    """The parts of `values` that differ from `defaults`; objects are compared key by key,
    everything else (arrays included, as they replace) whole."""
    changed = {}
    for key, value in values.items():
        default = defaults.get(key)
        if isinstance(value, dict) and isinstance(default, dict):
            nested = _difference(value, default)
            if nested:
                changed[key] = nested
        elif value != default:
            changed[key] = value
    return changed


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _detail(error: dict) -> dict[str, str]:
    message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
    return {"field": _dotted(error["loc"]), "message": message}


def _dotted(loc: tuple[str | int, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path
