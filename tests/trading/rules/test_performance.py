"""Performance figures against examples worked by hand (docs/analytics.md has the definitions).
Every expected number is derived in the comments beside it, never taken from the code."""

from datetime import UTC, datetime
from decimal import Decimal

from trading.rules.performance import (
    EquityPoint,
    TradeResult,
    Transfer,
    daily_returns,
    max_drawdown,
    sharpe_ratio,
    trade_stats,
    valuation,
)
from trading.rules.risk import Holding

D = Decimal


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def points(*pairs) -> list[EquityPoint]:
    return [EquityPoint(moment, D(equity)) for moment, equity in pairs]


# Five trades: two wins (+0.5, +0.3), two losses (-0.2, -0.3) and one at exactly zero.
TRADES = [
    TradeResult(D("0.5"), D("50"), "take_profit"),
    TradeResult(D("-0.2"), D("-20"), "stop_loss"),
    TradeResult(D("0"), D("0"), "manual"),
    TradeResult(D("0.3"), D("10"), "stale_trade"),
    TradeResult(D("-0.3"), D("-30"), "stop_loss"),
]


def test_a_breakeven_trade_counts_as_a_trade_but_not_as_a_win():
    stats = trade_stats(TRADES)

    assert (stats.count, stats.wins, stats.losses, stats.breakeven) == (5, 2, 2, 1)
    assert stats.win_rate_percent == D(40)  # 2 wins of 5 trades


def test_profit_factor_is_gross_profit_over_gross_loss():
    stats = trade_stats(TRADES)

    assert stats.gross_profit_sol == D("0.8")  # 0.5 + 0.3
    assert stats.gross_loss_sol == D("0.5")  # 0.2 + 0.3
    assert stats.profit_factor == D("1.6")  # 0.8 / 0.5
    assert stats.realised_pnl_sol == D("0.3")  # 0.8 - 0.5


def test_average_return_is_the_mean_change_percent_of_every_trade():
    # (50 - 20 + 0 + 10 - 30) / 5 = 10 / 5
    assert trade_stats(TRADES).average_return_percent == D(2)


def test_trades_are_counted_by_close_reason_with_every_reason_listed():
    assert trade_stats(TRADES).by_close_reason == {
        "stop_loss": 2,
        "take_profit": 1,
        "stale_trade": 1,
        "manual": 1,
        "rug_pull": 0,
        "signal": 0,
        "ai": 0,
    }


def test_no_losing_trade_has_no_profit_factor():
    stats = trade_stats([TradeResult(D("0.1"), D("5"), "take_profit")])

    assert stats.profit_factor is None
    assert stats.win_rate_percent == D(100)


def test_no_trades_have_no_rates():
    stats = trade_stats([])

    assert stats.count == 0
    assert stats.win_rate_percent is None
    assert stats.average_return_percent is None
    assert stats.profit_factor is None
    assert stats.realised_pnl_sol == 0


def test_equity_values_priced_holdings_at_their_price_and_the_others_at_cost():
    holdings = [
        # Half of 2000 tokens bought for 2 SOL: cost 1 SOL; at 0.0015 worth 1.5 SOL.
        Holding("PRICED", D(1000), D(2000), D(2)),
        # No price known: worth its cost, 1 SOL, and no unrealised P/L.
        Holding("UNPRICED", D(100), D(100), D(1)),
    ]

    result = valuation(D(5), holdings, {"PRICED": D("0.0015")})

    assert result.positions_value_sol == D("2.5")  # 1.5 + 1
    assert result.equity_sol == D("7.5")  # 5 SOL + 2.5
    assert result.unrealised_pnl_sol == D("0.5")  # 1.5 - 1


def test_max_drawdown_is_the_largest_fall_from_a_running_peak():
    # Peak 12, then 9 (-3, 25%), 11, 8 (-4, 4/12 = 33.33...%), then a new peak 13.
    curve = points(
        (at(1), 10), (at(1, 13), 12), (at(1, 14), 9), (at(2), 11), (at(3), 8), (at(4), 13)
    )

    drawdown = max_drawdown(curve)

    assert drawdown.sol == D(4)
    assert abs(drawdown.percent - D("33.333333333333")) < D("1e-12")


def test_the_largest_fall_in_sol_and_in_percent_may_be_different_falls():
    # 100 -> 50 falls 50 SOL (50%); 200 -> 120 falls 80 SOL (40%).
    drawdown = max_drawdown(points((at(1), 100), (at(2), 50), (at(3), 200), (at(4), 120)))

    assert drawdown.sol == D(80)
    assert drawdown.percent == D(50)


def test_deposits_and_withdrawals_are_neither_gains_nor_drawdowns():
    # 10 SOL, then 5 deposited (15: no gain), 6 withdrawn (9: no loss), then a real fall to 7.2.
    # Net of transfers: 10, 10, 10, 8.2. The last peak is the point at 9 SOL of equity, so the
    # fall is 1.8 SOL, 1.8 / 9 = 20%.
    curve = points((at(1), 10), (at(2), 15), (at(3), 9), (at(4), "7.2"))
    transfers = [Transfer(at(2, 1), D(5)), Transfer(at(3, 1), D(-6))]

    drawdown = max_drawdown(curve, transfers)

    assert drawdown.sol == D("1.8")
    assert drawdown.percent == D(20)


def test_equity_that_only_rises_has_no_drawdown():
    drawdown = max_drawdown(points((at(1), 1), (at(2), 2), (at(3), 3)))

    assert (drawdown.sol, drawdown.percent) == (0, 0)


# Day closes 10, 11, 15.45 (5 deposited that day), nothing on day 4, 18.54 on day 5.
HISTORY = points(
    (at(1, 0), 9), (at(1, 23), 10), (at(2), 11), (at(3, 20), "15.45"), (at(5), "18.54")
)
DEPOSITS = [Transfer(at(3, 1), D(5))]


def test_daily_returns_run_from_close_to_close_net_of_transfers():
    # Day 2: (11 - 10) / 10 = 0.1. Day 3: (15.45 - 5 - 11) / 11 = -0.55 / 11 = -0.05.
    # Day 5 (day 4 has no point): (18.54 - 15.45) / 15.45 = 3.09 / 15.45 = 0.2.
    assert daily_returns(HISTORY, DEPOSITS) == [D("0.1"), D("-0.05"), D("0.2")]


def test_sharpe_is_the_mean_daily_return_over_its_sample_deviation():
    # Returns 0.1, -0.05, 0.2: mean 0.25 / 3 = 5/60. Deviations 1/60, -8/60, 7/60; squares sum
    # to 114/3600; over n - 1 = 2: variance 57/3600, deviation sqrt(57)/60.
    # Sharpe = (5/60) / (sqrt(57)/60) = 5 / sqrt(57) = 0.66226617853252190326637586...
    sharpe = sharpe_ratio(daily_returns(HISTORY, DEPOSITS))

    assert sharpe.daily_returns == 3
    assert abs(sharpe.ratio - D("0.662266178532521903266375860258")) < D("1e-30")


def test_sharpe_needs_two_daily_returns():
    one_return = daily_returns(points((at(1), 10), (at(2), 11)))

    assert sharpe_ratio(one_return).ratio is None
    assert sharpe_ratio([]).daily_returns == 0


def test_returns_that_never_vary_have_no_sharpe():
    # 10 -> 11 -> 12.1: +10% both days, a deviation of zero.
    returns = daily_returns(points((at(1), 10), (at(2), 11), (at(3), "12.1")))

    assert returns == [D("0.1"), D("0.1")]
    assert sharpe_ratio(returns).ratio is None


def test_a_day_after_a_close_at_zero_equity_has_no_return():
    assert daily_returns(points((at(1), 0), (at(2), 5), (at(3), 6))) == [D("0.2")]
