from dataclasses import dataclass
from decimal import Decimal

import pytest

from tests.conformance import load
from tests.trading.rules.vectors import assert_matches, numbered
from trading.rules.config import MoonBagConfig, TakeProfitConfig, TakeProfitLevel
from trading.rules.take_profit import evaluate_take_profit, reset_after_dca

VECTORS = load("take_profit.json")
CASES = VECTORS["cases"]


def config_of(case: dict) -> TakeProfitConfig:
    moon_bag = case["moon_bag"]
    return TakeProfitConfig(
        enabled=True,
        mode="custom",
        levels=tuple(TakeProfitLevel(target, sell) for target, sell in case["levels"]),
        moon_bag=MoonBagConfig(
            moon_bag["enabled"], moon_bag["trigger_percent"], moon_bag["retain_percent"]
        ),
    )


def total_levels_of(case: dict) -> int | None:
    return None if case.get("total_levels") is None else int(case["total_levels"])


@pytest.mark.parametrize(
    "case", CASES, ids=numbered(CASES, lambda c: f"price-{c['price']}-hit-{c.get('levels_hit', 0)}")
)
def test_one_tick_matches_the_take_profit_vectors(case):
    result = evaluate_take_profit(
        config_of(case),
        purchase_price=case["purchase_price"],
        original_amount=case["original_amount"],
        remaining_amount=case.get("remaining_amount", case["original_amount"]),
        levels_hit=int(case.get("levels_hit", 0)),
        batch_start_level=int(case.get("batch_start_level", 0)),
        total_levels=total_levels_of(case),
        moon_bag_activated=case.get("moon_bag_activated", False),
        moon_bag_amount=case.get("moon_bag_amount", Decimal(0)),
        price=case["price"],
    )

    actual = result._asdict()
    actual["sell"] = result.sell_amount
    assert_matches(case["expected"], actual, VECTORS["tolerance"])


@dataclass
class Holding:
    remaining: Decimal
    levels_hit: int = 0
    moon_bag_activated: bool = False
    moon_bag_amount: Decimal = Decimal(0)


def tick(cfg: TakeProfitConfig, holding: Holding, original: Decimal, price: Decimal):
    result = evaluate_take_profit(
        cfg,
        purchase_price=Decimal(1),
        original_amount=original,
        remaining_amount=holding.remaining,
        levels_hit=holding.levels_hit,
        batch_start_level=0,
        total_levels=None,
        moon_bag_activated=holding.moon_bag_activated,
        moon_bag_amount=holding.moon_bag_amount,
        price=price,
    )
    if result.execute:
        holding.remaining = result.remaining
        holding.levels_hit = result.new_levels_hit
        if result.activate_moon_bag:
            holding.moon_bag_activated = True
            holding.moon_bag_amount = result.moon_bag_amount
    return result


@pytest.mark.parametrize("mode", ["aggressive", "moderate", "conservative"])
def test_moon_bag_is_never_sold_by_take_profit(mode):
    cfg = TakeProfitConfig(enabled=True, mode=mode)
    levels, moon_bag = cfg.resolved()
    original = Decimal(1000)
    holding = Holding(remaining=original)
    retained = original * moon_bag.retain_percent / 100
    for price in (Decimal(1) + level.target_percent / 100 for level in levels):
        for _ in range(3):
            tick(cfg, holding, original, price)
            if holding.moon_bag_activated:
                assert holding.remaining >= holding.moon_bag_amount

    assert holding.levels_hit == len(levels)
    assert holding.moon_bag_amount == retained
    assert holding.remaining >= retained
    assert not tick(cfg, holding, original, Decimal(100)).execute


def test_a_jump_past_every_level_sells_them_all_at_once_but_keeps_the_moon_bag():
    cfg = TakeProfitConfig(enabled=True, mode="aggressive")
    original = Decimal(1000)

    result = tick(cfg, Holding(remaining=original), original, Decimal(10))

    assert result.levels == 4
    assert result.activate_moon_bag
    assert result.sell_amount == original - result.moon_bag_amount
    assert result.remaining == result.moon_bag_amount
    assert not result.close_position


def test_reaching_the_final_level_sets_the_moon_bag_aside_even_below_its_trigger():
    cfg = TakeProfitConfig(
        enabled=True,
        mode="custom",
        levels=(
            TakeProfitLevel(Decimal(50), Decimal(50)),
            TakeProfitLevel(Decimal(100), Decimal(45)),
        ),
        moon_bag=MoonBagConfig(trigger_percent=Decimal(500), retain_percent=Decimal(10)),
    )
    original = Decimal(1000)
    holding = Holding(remaining=original)

    first = tick(cfg, holding, original, Decimal("1.5"))
    last = tick(cfg, holding, original, Decimal(2))

    assert not first.activate_moon_bag
    assert last.activate_moon_bag
    assert last.moon_bag_amount == 100
    assert last.sell_amount == 400
    assert not last.close_position


def test_selling_down_to_dust_without_a_moon_bag_closes_the_position():
    cfg = TakeProfitConfig(
        enabled=True,
        mode="custom",
        levels=(
            TakeProfitLevel(Decimal(50), Decimal(60)),
            TakeProfitLevel(Decimal(100), Decimal(40)),
        ),
        moon_bag=MoonBagConfig(enabled=False),
    )
    original = Decimal(1000)
    holding = Holding(remaining=original)

    first = tick(cfg, holding, original, Decimal("1.5"))
    last = tick(cfg, holding, original, Decimal(2))

    assert not first.close_position
    assert last.close_position
    assert last.remaining == 0


def test_presets_bring_their_own_moon_bag_but_the_agent_decides_whether_it_is_on():
    levels, moon_bag = TakeProfitConfig(
        mode="conservative", moon_bag=MoonBagConfig(enabled=False, trigger_percent=Decimal(1))
    ).resolved()

    assert [(level.target_percent, level.sell_percent) for level in levels] == [
        (100, 20),
        (200, 20),
        (400, 25),
        (600, 20),
    ]
    assert (moon_bag.enabled, moon_bag.trigger_percent, moon_bag.retain_percent) == (False, 400, 15)


def test_a_level_reached_with_only_the_moon_bag_left_sells_nothing():
    cfg = TakeProfitConfig(enabled=True, mode="moderate")
    holding = Holding(remaining=Decimal(100), moon_bag_activated=True, moon_bag_amount=Decimal(100))

    result = tick(cfg, holding, Decimal(1000), Decimal(2))

    assert not result.execute
    assert result.sell_amount == 0
    assert "moon bag" in result.reason


def test_disabled_take_profit_never_sells():
    result = evaluate_take_profit(
        TakeProfitConfig(enabled=False),
        purchase_price=Decimal(1),
        original_amount=Decimal(10),
        remaining_amount=Decimal(10),
        levels_hit=0,
        batch_start_level=0,
        total_levels=None,
        moon_bag_activated=False,
        moon_bag_amount=Decimal(0),
        price=Decimal(100),
    )

    assert not result.execute
    assert result.sell_amount == 0


def test_a_level_count_before_its_batch_start_is_refused():
    with pytest.raises(ValueError, match="batch_start"):
        evaluate_take_profit(
            TakeProfitConfig(enabled=True),
            purchase_price=Decimal(1),
            original_amount=Decimal(10),
            remaining_amount=Decimal(10),
            levels_hit=1,
            batch_start_level=2,
            total_levels=6,
            moon_bag_activated=False,
            moon_bag_amount=Decimal(0),
            price=Decimal(2),
        )


def test_a_dca_buy_starts_a_new_batch_of_every_level_after_the_ones_hit():
    assert reset_after_dca(2, 4) == (2, 6)
    assert reset_after_dca(0, 3) == (0, 3)
