from decimal import Decimal

import pytest

from tests.conformance import load
from tests.trading.rules.vectors import assert_matches, numbered
from trading.rules.pnl import full_close_pnl, partial_sale_pnl

VECTORS = load("pnl.json")
FULL = VECTORS["full_sale"]
PARTIAL = VECTORS["partial_sale"]


@pytest.mark.parametrize(
    "case", FULL, ids=numbered(FULL, lambda c: f"{c['invested_sol']}-to-{c['received_sol']}")
)
def test_full_close_matches_the_pnl_vectors(case):
    result = full_close_pnl(
        invested_sol=case["invested_sol"],
        received_sol=case["received_sol"],
        cost_basis_sol=case["cost_basis_sol"],
        sol_usd=case["sol_usd"],
    )

    assert_matches(case["expected"], result._asdict(), VECTORS["tolerance"])


@pytest.mark.parametrize(
    "case", PARTIAL, ids=numbered(PARTIAL, lambda c: f"{c['tokens_sold']}-of-{c['total_tokens']}")
)
def test_partial_sale_matches_the_pnl_vectors(case):
    result = partial_sale_pnl(
        invested_sol=case["invested_sol"],
        total_tokens=case["total_tokens"],
        tokens_sold=case["tokens_sold"],
        net_sol=case["net_sol"],
        purchase_price=case["purchase_price"],
        sale_price=case["sale_price"],
        sol_usd=case["sol_usd"],
    )

    assert_matches(case["expected"], result._asdict(), VECTORS["tolerance"])


def test_usd_is_unknown_without_a_sol_price():
    result = full_close_pnl(
        invested_sol=Decimal(2), received_sol=Decimal(3), cost_basis_sol=Decimal(2), sol_usd=None
    )

    assert result.profit_loss_sol == 1
    assert result.profit_loss_usd is None
