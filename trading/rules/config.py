"""Rule inputs: an agent's trading configuration as immutable values.

Defaults equal trading-rules.md section 1. Validation of stored JSON happens where it is
written; these types only carry already-valid values and resolve the preset modes.
"""

from dataclasses import dataclass
from decimal import Decimal

CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class TrailingLevel:
    change: Decimal
    stop_loss: Decimal


@dataclass(frozen=True, slots=True)
class StopLossConfig:
    enabled: bool = True
    default_percentage: Decimal = Decimal("-32")
    mode: str = "fixed"
    trailing_levels: tuple[TrailingLevel, ...] = ()


@dataclass(frozen=True, slots=True)
class TakeProfitLevel:
    target_percent: Decimal
    sell_percent: Decimal


@dataclass(frozen=True, slots=True)
class MoonBagConfig:
    enabled: bool = True
    trigger_percent: Decimal = Decimal("300")
    retain_percent: Decimal = Decimal("10")


@dataclass(frozen=True, slots=True)
class _TakeProfitPreset:
    levels: tuple[TakeProfitLevel, ...]
    # Built once per enabled flag so resolving a preset on every tick allocates nothing.
    moon_bag_on: MoonBagConfig
    moon_bag_off: MoonBagConfig


def _take_profit_preset(targets_and_sells, trigger: str, retain: str) -> _TakeProfitPreset:
    levels = tuple(TakeProfitLevel(Decimal(t), Decimal(s)) for t, s in targets_and_sells)
    return _TakeProfitPreset(
        levels,
        MoonBagConfig(True, Decimal(trigger), Decimal(retain)),
        MoonBagConfig(False, Decimal(trigger), Decimal(retain)),
    )


_TAKE_PROFIT_PRESETS = {
    "aggressive": _take_profit_preset(
        [("25", "25"), ("50", "25"), ("100", "25"), ("150", "15")], "100", "10"
    ),
    "moderate": _take_profit_preset(
        [("50", "25"), ("150", "25"), ("300", "25"), ("400", "15")], "300", "10"
    ),
    "conservative": _take_profit_preset(
        [("100", "20"), ("200", "20"), ("400", "25"), ("600", "20")], "400", "15"
    ),
}


@dataclass(frozen=True, slots=True)
class TakeProfitConfig:
    enabled: bool = False
    mode: str = "moderate"
    levels: tuple[TakeProfitLevel, ...] = ()
    moon_bag: MoonBagConfig = MoonBagConfig()

    def resolved(self) -> tuple[tuple[TakeProfitLevel, ...], MoonBagConfig]:
        """The levels and moon bag in force: the custom ones, or the preset of the mode.

        A preset brings its own moon bag trigger and retain; only `enabled` is the agent's.
        """
        if self.mode == CUSTOM:
            return self.levels, self.moon_bag
        preset = _preset(_TAKE_PROFIT_PRESETS, self.mode, "take-profit")
        return preset.levels, preset.moon_bag_on if self.moon_bag.enabled else preset.moon_bag_off


@dataclass(frozen=True, slots=True)
class DcaLevel:
    drop_percent: Decimal
    buy_percent: Decimal


def _dca_preset(drops_and_buys) -> tuple[DcaLevel, ...]:
    return tuple(DcaLevel(Decimal(d), Decimal(b)) for d, b in drops_and_buys)


_DCA_PRESETS = {
    "aggressive": _dca_preset([("-10", "100"), ("-10", "100"), ("-10", "100")]),
    "moderate": _dca_preset([("-20", "75"), ("-20", "75")]),
    "conservative": _dca_preset([("-20", "100")]),
}


@dataclass(frozen=True, slots=True)
class DcaConfig:
    enabled: bool = False
    mode: str = "moderate"
    levels: tuple[DcaLevel, ...] = ()
    max_dca_count: int = 3
    cooldown_seconds: int = 30

    def resolved_levels(self) -> tuple[DcaLevel, ...]:
        """The levels in the order they are used: custom ones least negative drop first."""
        if self.mode == CUSTOM:
            return tuple(sorted(self.levels, key=_drop_percent, reverse=True))
        return _preset(_DCA_PRESETS, self.mode, "DCA")


def _drop_percent(level: DcaLevel) -> Decimal:
    return level.drop_percent


def _preset(presets: dict, mode: str, rule: str):
    try:
        return presets[mode]
    except KeyError:
        raise ValueError(f"unknown {rule} mode {mode!r}") from None


@dataclass(frozen=True, slots=True)
class StaleTradeConfig:
    enabled: bool = True
    min_hold_minutes: int = 60
    min_profit_percent: Decimal = Decimal("1")
    max_profit_percent: Decimal = Decimal("10")


@dataclass(frozen=True, slots=True)
class SizingConfig:
    minimum: Decimal = Decimal("0.2")
    medium: Decimal = Decimal("5")
    large: Decimal = Decimal("10")
    small_range: tuple[Decimal, Decimal] = (Decimal("0.1"), Decimal("0.1"))
    medium_range: tuple[Decimal, Decimal] = (Decimal("0.5"), Decimal("1.0"))
    large_range: tuple[Decimal, Decimal] = (Decimal("1.5"), Decimal("2.0"))
    randomization: bool = True


@dataclass(frozen=True, slots=True)
class PurchaseLimits:
    minimum_agent_balance: Decimal = Decimal("0.5")
    max_purchase_per_token: Decimal = Decimal("2")
    # A fraction (0.05 = 5%), like Jupiter's priceImpactPct; None disables the guard.
    max_price_impact: Decimal | None = Decimal("0.05")


@dataclass(frozen=True, slots=True)
class RuleConfig:
    stop_loss: StopLossConfig = StopLossConfig()
    take_profit: TakeProfitConfig = TakeProfitConfig()
    dca: DcaConfig = DcaConfig()
    stale_trade: StaleTradeConfig = StaleTradeConfig()
    sizing: SizingConfig = SizingConfig()
    purchase_limits: PurchaseLimits = PurchaseLimits()
