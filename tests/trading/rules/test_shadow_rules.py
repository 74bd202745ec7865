"""The shadow twin's arithmetic, against hand-worked examples."""

from decimal import Decimal as D

from trading.rules.shadow import Leg, chain_amounts, position_gap, slippage_bps


def test_a_buy_spends_the_quoted_input_and_the_rest_is_network_fee():
    # 0.5 SOL swapped, 10,000 lamports of signature fees, 2,039,280 of token account rent.
    amounts = chain_amounts(
        side="buy", sol_delta=-502_049_280, token_delta=498_000, fee=10_000, quoted_in=500_000_000
    )
    assert (amounts.sol_lamports, amounts.network_lamports, amounts.token_raw) == (
        500_000_000,
        2_049_280,
        498_000,
    )


def test_a_sale_receives_its_delta_plus_the_fee_it_paid():
    amounts = chain_amounts(
        side="sell", sol_delta=49_990_000, token_delta=-100_000, fee=10_000, quoted_in=100_000
    )
    assert (amounts.sol_lamports, amounts.network_lamports, amounts.token_raw) == (
        50_000_000,
        10_000,
        100_000,
    )


def test_slippage_is_what_was_delivered_short_of_the_quote_in_basis_points():
    assert slippage_bps(quoted_out=D("1000"), received=D("990")) == D("100")
    assert slippage_bps(quoted_out=D("0.5"), received=D("0.50025")) == D("-5")
    assert slippage_bps(quoted_out=D(0), received=D(0)) == 0


def _buy(live_sol, live_tokens, live_fee, paper_sol, paper_tokens, paper_fee):
    return Leg(
        "buy", D(live_sol), D(live_tokens), D(live_fee), D(paper_sol), D(paper_tokens), D(paper_fee)
    )


def _sell(live_sol, live_tokens, live_fee, paper_sol, paper_fee):
    # A sale's quote is for the live amount: paper's SOL is for those same tokens.
    return Leg(
        "sell", D(live_sol), D(live_tokens), D(live_fee), D(paper_sol), D(live_tokens), D(paper_fee)
    )


def test_paper_sells_the_same_fraction_of_its_own_holding_at_the_sale_quotes_price():
    # Live bought 1000 tokens for 1 SOL + 0.01 fees; paper got the quoted 1010 for 1 + 0.002.
    # Live sells half (500) for 0.6 and the rest for 0.4, 0.001 fees each; paper's quotes are
    # the same and it pays 0.002 each.
    legs = [
        _buy("1", "1000", "0.01", "1", "1010", "0.002"),
        _sell("0.6", "500", "0.001", "0.6", "0.002"),
        _sell("0.4", "500", "0.001", "0.4", "0.002"),
    ]
    gap = position_gap(legs)
    # Live: (0.599 + 0.399) - 1.01 = -0.012.
    assert gap.live_pnl == D("-0.012")
    # Paper: sells 505 tokens at 0.6/500 = 0.606 - 0.002, then the other 505 at 0.4/500 =
    # 0.404 - 0.002; 1.006 - 1.002 = 0.004.
    assert gap.paper_pnl == D("0.004")
    assert gap.gap == D("-0.016")
    assert gap.paper_tokens_left == 0


def test_a_dca_between_sales_adds_to_both_holdings():
    legs = [
        _buy("1", "1000", "0", "1", "1000", "0"),
        _buy("1", "1900", "0", "1", "2000", "0"),  # live got 1900 where 2000 were quoted
        _sell("1.45", "2900", "0", "1.45", "0"),  # all of it, at 0.0005 a token
    ]
    gap = position_gap(legs)
    assert gap.live_pnl == D("-0.55")
    # Paper holds 3000 and sells them all at the quote's 1.45 / 2900 a token: 1.5.
    assert gap.paper_pnl == D("-0.5")
    assert gap.gap == D("-0.05")
