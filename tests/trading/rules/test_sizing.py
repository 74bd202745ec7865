import random
from decimal import Decimal

import pytest

from tests.conformance import close_enough, load
from tests.trading.rules.vectors import numbered
from trading.rules.config import PurchaseLimits, SizingConfig
from trading.rules.sizing import SizingError, impact_ladder, impact_ok, position_size

VECTORS = load("position_sizing.json")
CASES = VECTORS["cases"]


def sizing_of(config: dict) -> SizingConfig:
    thresholds, sizes = config["thresholds"], config["sizes"]
    return SizingConfig(
        minimum=thresholds["minimum"],
        medium=thresholds["medium"],
        large=thresholds["large"],
        small_range=tuple(sizes["small"]),
        medium_range=tuple(sizes["medium"]),
        large_range=tuple(sizes["large"]),
        randomization=config["randomization"],
    )


@pytest.mark.parametrize(
    "case", CASES, ids=numbered(CASES, lambda c: f"balance-{c['sol_balance']}")
)
def test_size_matches_the_position_sizing_vectors(case):
    limits = PurchaseLimits(
        minimum_agent_balance=case["minimum_agent_balance"],
        max_purchase_per_token=case["max_purchase_per_token"],
    )
    expected = case["expected"]
    assert set(expected) <= {"category", "size_sol", "error"}, "unchecked vector field"

    if "error" in expected:
        with pytest.raises(SizingError) as raised:
            position_size(sizing_of(case["config"]), limits, case["sol_balance"])
        assert raised.value.code == expected["error"]
    else:
        result = position_size(sizing_of(case["config"]), limits, case["sol_balance"])
        assert result.category == expected["category"]
        assert close_enough(result.size_sol, expected["size_sol"], VECTORS["tolerance"])


def test_randomised_size_is_a_whole_number_of_lamports_inside_the_range():
    sizing = SizingConfig(medium_range=(Decimal("0.5"), Decimal("1.0")))
    limits = PurchaseLimits(minimum_agent_balance=Decimal(0), max_purchase_per_token=Decimal(100))
    rng = random.Random(7)

    sizes = [position_size(sizing, limits, Decimal(6), rng).size_sol for _ in range(200)]

    assert all(Decimal("0.5") <= size <= Decimal("1.0") for size in sizes)
    assert all(size == size.quantize(Decimal("1e-9")) for size in sizes)
    assert len(set(sizes)) > 100


def test_randomised_size_is_reproducible_from_the_seed():
    sizing, limits = SizingConfig(), PurchaseLimits()

    first = position_size(sizing, limits, Decimal(20), random.Random(42))
    second = position_size(sizing, limits, Decimal(20), random.Random(42))

    assert first == second
    assert first.category == "large"


def test_a_range_narrower_than_a_lamport_never_exceeds_its_top():
    sizing = SizingConfig(small_range=(Decimal("0.1000000001"), Decimal("0.1000000004")))
    limits = PurchaseLimits(minimum_agent_balance=Decimal(0))

    result = position_size(sizing, limits, Decimal(1), random.Random(1))

    assert result.size_sol == Decimal("0.1")


def test_impact_ladder_requotes_at_nine_eight_and_seven_tenths():
    assert impact_ladder(Decimal(1)) == [Decimal(1), Decimal("0.9"), Decimal("0.8"), Decimal("0.7")]


def test_impact_ladder_drops_requotes_under_a_hundredth_of_a_sol():
    assert impact_ladder(Decimal("0.012")) == [Decimal("0.012"), Decimal("0.0108")]
    assert impact_ladder(Decimal("0.005")) == [Decimal("0.005")]


def test_impact_at_the_limit_is_refused_and_none_disables_the_guard():
    limit = Decimal("0.05")

    assert impact_ok(Decimal("0.0499"), limit)
    assert not impact_ok(Decimal("0.05"), limit)
    assert impact_ok(Decimal("0.9"), None)
