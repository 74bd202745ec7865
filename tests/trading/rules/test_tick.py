import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.conformance import REPO_ROOT
from trading.rules.config import (
    DcaConfig,
    RuleConfig,
    StaleTradeConfig,
    StopLossConfig,
    TakeProfitConfig,
)
from trading.rules.dca import average_after_buy
from trading.rules.tick import PositionState, TickResult, evaluate_tick

OPENED = datetime(2025, 1, 1, tzinfo=UTC)
AVERAGE = Decimal("0.001")
BOUGHT = Decimal(1000)
NO_STALE = StaleTradeConfig(enabled=False)


def position(**changes) -> PositionState:
    fresh = PositionState(
        purchase_price=AVERAGE,
        total_invested_sol=Decimal(1),
        total_tokens_bought=BOUGHT,
        remaining_amount=BOUGHT,
        peak_price=AVERAGE,
        lowest_price=AVERAGE,
        stop_loss_percent=Decimal(-32),
        take_profit_levels_hit=0,
        take_profit_batch_start=0,
        take_profit_total_levels=None,
        moon_bag_activated=False,
        moon_bag_amount=Decimal(0),
        dca_count=0,
        last_dca_at=None,
        opened_at=OPENED,
    )
    return fresh._replace(**changes)


def at(minutes: int) -> datetime:
    return OPENED + timedelta(minutes=minutes)


def kinds(result: TickResult) -> list[str]:
    return [action.kind for action in result.actions]


def after(state: PositionState, result: TickResult) -> PositionState:
    """The state the executor would persist after carrying out a tick's sales."""
    state = state._replace(
        peak_price=result.peak_price,
        lowest_price=result.lowest_price,
        stop_loss_percent=result.stop_loss_percent,
    )
    for action in result.actions:
        state = state._replace(
            remaining_amount=state.remaining_amount - action.token_amount,
            take_profit_levels_hit=action.new_levels_hit,
        )
        if action.activate_moon_bag:
            state = state._replace(moon_bag_activated=True, moon_bag_amount=action.moon_bag_amount)
    return state


def test_a_quiet_tick_only_tracks_prices():
    result = evaluate_tick(RuleConfig(), position(), Decimal("0.0009"), at(10))

    assert result.actions == ()
    assert result.lowest_price == Decimal("0.0009")
    assert result.peak_price == AVERAGE
    assert result.stop_loss_percent == -32
    assert result.stop_price == Decimal("0.00068")


def test_a_new_peak_tightens_the_stop_without_selling():
    result = evaluate_tick(RuleConfig(), position(), Decimal("0.0015"), at(10))

    assert result.actions == ()
    assert result.peak_price == Decimal("0.0015")
    assert result.stop_loss_percent == 40
    assert result.lowest_price == AVERAGE


def test_a_stop_loss_sale_is_the_only_action_of_its_tick_and_takes_the_moon_bag():
    eager = RuleConfig(
        take_profit=TakeProfitConfig(enabled=True),
        stale_trade=StaleTradeConfig(
            min_hold_minutes=0, min_profit_percent=Decimal(-50), max_profit_percent=Decimal(10)
        ),
        dca=DcaConfig(enabled=True, mode="aggressive"),
    )
    state = position(
        remaining_amount=Decimal(400), moon_bag_activated=True, moon_bag_amount=Decimal(100)
    )
    price = Decimal("0.0006")

    result = evaluate_tick(eager, state, price, at(120))
    without_stop = RuleConfig(
        stop_loss=StopLossConfig(enabled=False),
        take_profit=eager.take_profit,
        stale_trade=eager.stale_trade,
        dca=eager.dca,
    )

    assert kinds(result) == ["stop_loss_sell"]
    (sale,) = result.actions
    assert sale.token_amount == 400
    assert sale.close_position
    assert result.lowest_price == AVERAGE
    assert kinds(evaluate_tick(without_stop, state, price, at(120))) == ["stale_sell"]


def test_a_stale_close_ends_the_tick_before_dca():
    losing_window = StaleTradeConfig(
        min_profit_percent=Decimal(-25), max_profit_percent=Decimal(-5)
    )
    stale = RuleConfig(stale_trade=losing_window, dca=DcaConfig(enabled=True))
    fresh_only = RuleConfig(stale_trade=NO_STALE, dca=DcaConfig(enabled=True))
    price = Decimal("0.0008")

    result = evaluate_tick(stale, position(), price, at(120))

    assert kinds(result) == ["stale_sell"]
    assert result.actions[0].token_amount == BOUGHT
    assert result.actions[0].close_position
    assert result.lowest_price == AVERAGE
    assert kinds(evaluate_tick(fresh_only, position(), price, at(120))) == ["dca_buy"]


def test_a_take_profit_sale_comes_before_a_stale_close_of_what_is_left():
    cfg = RuleConfig(
        take_profit=TakeProfitConfig(enabled=True),
        stale_trade=StaleTradeConfig(max_profit_percent=Decimal(100)),
    )

    result = evaluate_tick(cfg, position(), Decimal("0.0016"), at(120))

    assert kinds(result) == ["take_profit_sell", "stale_sell"]
    profit, stale = result.actions
    assert profit.token_amount == 250
    assert profit.new_levels_hit == 1
    assert stale.token_amount == 750


def test_a_dca_buy_keeps_peak_and_stop():
    cfg = RuleConfig(stale_trade=NO_STALE, dca=DcaConfig(enabled=True))
    state = position()
    price = Decimal("0.0008")

    result = evaluate_tick(cfg, state, price, at(10))
    (buy,) = result.actions
    averaged = average_after_buy(
        state.total_invested_sol, state.total_tokens_bought, buy.sol_amount, Decimal(750)
    )
    bought_more = after(state, result)._replace(
        purchase_price=averaged.average_price,
        total_invested_sol=averaged.total_invested_sol,
        total_tokens_bought=averaged.total_tokens,
        remaining_amount=averaged.total_tokens,
        dca_count=1,
        last_dca_at=at(10),
    )
    next_tick = evaluate_tick(cfg, bought_more, price, at(11))

    assert buy.kind == "dca_buy"
    assert buy.sol_amount == Decimal("0.6")
    assert buy.token_amount == 0
    assert (result.peak_price, result.stop_loss_percent) == (AVERAGE, Decimal(-32))
    assert (next_tick.peak_price, next_tick.stop_loss_percent) == (AVERAGE, Decimal(-32))
    assert abs(next_tick.stop_price - averaged.average_price * Decimal("0.68")) < Decimal("1e-24")
    assert next_tick.actions == ()


def test_dca_waits_for_the_cooldown_since_the_last_buy():
    cfg = RuleConfig(stale_trade=NO_STALE, dca=DcaConfig(enabled=True, cooldown_seconds=30))
    state = position(dca_count=1, last_dca_at=at(10))
    price = Decimal("0.0008")

    assert evaluate_tick(cfg, state, price, at(10) + timedelta(seconds=29)).actions == ()
    assert kinds(evaluate_tick(cfg, state, price, at(10) + timedelta(seconds=30))) == ["dca_buy"]


def test_dca_is_skipped_when_only_the_moon_bag_is_left():
    cfg = RuleConfig(stale_trade=NO_STALE, dca=DcaConfig(enabled=True))
    bag_only = position(
        remaining_amount=Decimal(100), moon_bag_activated=True, moon_bag_amount=Decimal(100)
    )
    no_bag = bag_only._replace(moon_bag_activated=False)

    assert evaluate_tick(cfg, bag_only, Decimal("0.0008"), at(10)).actions == ()
    assert kinds(evaluate_tick(cfg, no_bag, Decimal("0.0008"), at(10))) == ["dca_buy"]


def test_the_moon_bag_survives_every_take_profit_and_goes_with_the_stop_loss():
    cfg = RuleConfig(take_profit=TakeProfitConfig(enabled=True), stale_trade=NO_STALE)
    levels, moon_bag = cfg.take_profit.resolved()
    state = position()
    for level in levels:
        price = AVERAGE * (1 + level.target_percent / 100)
        for _ in range(2):
            state = after(state, evaluate_tick(cfg, state, price, at(10)))
    retained = BOUGHT * moon_bag.retain_percent / 100

    crash = evaluate_tick(cfg, state, AVERAGE, at(11))

    assert state.take_profit_levels_hit == len(levels)
    assert state.moon_bag_amount == retained
    assert state.remaining_amount >= retained
    assert kinds(crash) == ["stop_loss_sell"]
    assert crash.actions[0].token_amount == state.remaining_amount


def test_the_rules_never_import_django():
    probe = (
        "import sys\n"
        "import trading.rules.tick, trading.rules.sizing, trading.rules.fees, trading.rules.pnl\n"
        "loaded = sorted(m for m in sys.modules if m.partition('.')[0] == 'django')\n"
        "assert not loaded, loaded\n"
    )

    subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, check=True)
