import pytest

from tests.conformance import load
from tests.trading.rules.vectors import assert_matches, numbered
from trading.rules.fees import network_fee_sol, protocol_fee_sol

VECTORS = load("fees.json")
CASES = VECTORS["cases"]


@pytest.mark.parametrize(
    "case", CASES, ids=numbered(CASES, lambda c: f"{c['side']}-{c['fee_mint'][:4]}")
)
def test_fees_match_the_fee_vectors(case):
    actual = {
        "protocol_fee_sol": protocol_fee_sol(
            int(case["fee_bps"]), case["fee_mint"], int(case["sol_side_lamports"])
        ),
        "network_fee_sol": network_fee_sol(
            lamports_or_none(case["signature_fee_lamports"]),
            lamports_or_none(case["prioritization_fee_lamports"]),
            lamports_or_none(case["rent_fee_lamports"]),
        ),
    }

    assert_matches(case["expected"], actual, VECTORS["tolerance"])


def lamports_or_none(value):
    return None if value is None else int(value)
