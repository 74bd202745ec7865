"""Analytics (docs/analytics.md): balance snapshots written by beat and at each close, and the
performance and balance-history endpoints over a history traded through the real services on
localnet. The figures' arithmetic is tested by hand in tests/trading/rules/test_performance.py;
here each expected figure is derived from the ledger rows the trades wrote."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from agents.services import agent_create
from nexgent import money
from prices.selectors import latest_prices
from trading import tasks
from trading.ledger_services import balance_deposit
from trading.models import Balance, BalanceSnapshot, ClosedTrade, CloseReason
from trading.services import position_buy, position_close
from trading.snapshot_services import balance_snapshots_record

pytestmark = pytest.mark.django_db
QUIET = {"stale_trade": {"enabled": False}}


def tokens(market, *symbols):
    return [
        market.add_token(
            symbol=symbol, price_sol=Decimal("0.01"), decimals=6, liquidity_sol=Decimal("50000")
        )
        for symbol in symbols
    ]


def buy(agent, token):
    return position_buy(
        agent=agent,
        wallet=agent.wallets.get(),
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal("-32"),
    ).position


def sol(wallet) -> Decimal:
    return Balance.objects.get(wallet=wallet, token_address=money.WSOL_MINT).amount


def tick(capture):
    with capture(execute=True):
        tasks.price_poll()


@pytest.fixture
def operator(api_client, user):
    api_client.force_authenticate(user)
    return api_client


@pytest.fixture
def trader(user):
    agent = agent_create(owner=user, name="Trader", config=QUIET)
    balance_deposit(wallet=agent.wallets.get(), amount=Decimal("10"))
    return agent


def test_performance_of_a_win_a_stop_loss_and_an_open_position(
    localnet, market, operator, trader, django_capture_on_commit_callbacks
):
    wallet = trader.wallets.get()
    win, lose, hold = tokens(market, "WIN", "LOSE", "HOLD")
    position = buy(trader, win)
    market.set_price(win, position.purchase_price * Decimal("1.5"))
    with django_capture_on_commit_callbacks(execute=True):
        position_close(position_id=position.pk, reason=CloseReason.MANUAL)
    after_win = sol(wallet)
    position = buy(trader, lose)
    market.set_price(lose, position.purchase_price * Decimal("0.5"))
    tick(django_capture_on_commit_callbacks)  # the stop loss sells
    after_loss = sol(wallet)
    held = buy(trader, hold)
    market.set_price(hold, held.purchase_price * Decimal("1.2"))
    tick(django_capture_on_commit_callbacks)  # prices the open position

    body = operator.get(f"/api/v1/agents/{trader.pk}/performance?timeframe=7d").json()

    won = ClosedTrade.objects.get(token_address=win)
    lost = ClosedTrade.objects.get(token_address=lose)
    assert lost.close_reason == "stop_loss"
    assert won.profit_loss_sol > 0 > lost.profit_loss_sol
    assert body["timeframe"] == "7d"
    assert body["trading_mode"] == "simulation"
    assert body["realised_pnl_sol"] == money.as_str(won.profit_loss_sol + lost.profit_loss_sol)
    assert body["trades"] == {
        "count": 2,
        "wins": 1,
        "losses": 1,
        "breakeven": 0,
        "gross_profit_sol": money.as_str(won.profit_loss_sol),
        "gross_loss_sol": money.as_str(-lost.profit_loss_sol),
        "win_rate_percent": "50",
        "profit_factor": money.as_str(money.percent(won.profit_loss_sol / -lost.profit_loss_sol)),
        "average_return_percent": money.as_str(
            money.percent((won.change_percent + lost.change_percent) / 2)
        ),
        "by_close_reason": {
            "stop_loss": 1,
            "take_profit": 0,
            "stale_trade": 0,
            "manual": 1,
            "rug_pull": 0,
            "signal": 0,
            "ai": 0,
        },
    }
    held.refresh_from_db()
    price = latest_prices([hold])[hold].price_sol
    value = held.remaining_amount * price
    equity = sol(wallet) + value
    assert body["sol_balance"] == money.as_str(sol(wallet))
    assert body["positions_value_sol"] == money.as_str(money.amount(value))
    assert body["equity_sol"] == money.as_str(money.amount(equity))
    assert body["unrealised_pnl_sol"] == money.as_str(money.amount(value - held.total_invested_sol))
    # The curve: a snapshot after each close (after_win, then after_loss), then equity now. The
    # deposit came before all of them. Peak after the win; the lowest point after it is the
    # lower of the two later ones.
    trough = min(after_loss, equity)
    assert after_win > trough
    assert body["equity_points"] == 3
    assert body["max_drawdown_sol"] == money.as_str(money.amount(after_win - trough))
    assert body["max_drawdown_percent"] == money.as_str(
        money.percent((after_win - trough) * 100 / after_win)
    )
    # Everything happened today: no daily return yet, so no Sharpe.
    assert body["daily_returns"] == 0
    assert body["sharpe_ratio"] is None


def test_a_close_writes_one_snapshot_of_its_wallet(
    localnet, market, trader, django_capture_on_commit_callbacks
):
    wallet = trader.wallets.get()
    (token,) = tokens(market, "CLOSE")
    position = buy(trader, token)
    assert not BalanceSnapshot.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        position_close(position_id=position.pk, reason=CloseReason.MANUAL)

    snapshot = BalanceSnapshot.objects.get()
    assert snapshot.wallet == wallet
    assert snapshot.sol_balance == snapshot.total_value_sol == sol(wallet)
    assert snapshot.positions_value_sol == 0


def test_the_beat_task_snapshots_every_agent_wallet_at_the_latest_prices(
    localnet, market, user, trader, django_capture_on_commit_callbacks
):
    idle = agent_create(owner=user, name="Idle")
    (token,) = tokens(market, "BEAT")
    held = buy(trader, token)
    market.set_price(token, held.purchase_price * Decimal("2"))
    tick(django_capture_on_commit_callbacks)

    tasks.balance_snapshots_record()

    snapshots = {s.wallet_id: s for s in BalanceSnapshot.objects.all()}
    assert set(snapshots) == {trader.wallets.get().pk, idle.wallets.get().pk}
    value = held.remaining_amount * latest_prices([token])[token].price_sol
    traded = snapshots[trader.wallets.get().pk]
    assert traded.sol_balance == sol(trader.wallets.get())
    assert traded.positions_value_sol == money.amount(value)
    assert traded.total_value_sol == money.amount(traded.sol_balance + value)
    assert snapshots[idle.wallets.get().pk].total_value_sol == 0
    beat = settings.CELERY_BEAT_SCHEDULE["balance-snapshots"]
    assert beat["task"] == "trading.tasks.balance_snapshots_record"
    assert beat["schedule"] == settings.BALANCE_SNAPSHOT_INTERVAL_SECONDS == 3600


def test_balance_history_lists_the_timeframe_oldest_first(operator, trader):
    wallet = trader.wallets.get()
    now = datetime.now(UTC)
    moments = [now - timedelta(days=2), now - timedelta(hours=3), now - timedelta(hours=2)]
    for moment in moments:
        balance_snapshots_record(wallet_ids=[wallet.pk], now=moment)
    url = f"/api/v1/agents/{trader.pk}/balance-history"

    day = operator.get(url, {"timeframe": "24h"}).json()
    everything = operator.get(url, {"timeframe": "all"}).json()
    newest = operator.get(url, {"timeframe": "all", "limit": 2}).json()

    assert [p["t"] for p in day["points"]] == [m.isoformat() for m in moments[1:]]
    assert day["points"][0] == {
        "t": moments[1].isoformat(),
        "sol_balance": "10",
        "positions_value_sol": "0",
        "equity_sol": "10",
    }
    assert day["truncated"] is False
    assert [p["t"] for p in everything["points"]] == [m.isoformat() for m in moments]
    assert everything["since"] is None
    assert [p["t"] for p in newest["points"]] == [m.isoformat() for m in moments[1:]]
    assert newest["truncated"] is True


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("performance", {"timeframe": "1y"}, "timeframe"),
        ("balance-history", {"timeframe": "weekly"}, "timeframe"),
        ("balance-history", {"limit": "0"}, "limit"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_field(operator, trader, path, query, field):
    response = operator.get(f"/api/v1/agents/{trader.pk}/{path}", query)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in {detail["field"] for detail in body["details"]}


@pytest.mark.parametrize("path", ["performance", "balance-history"])
def test_another_users_agent_is_a_404(api_client, other_user, trader, path):
    api_client.force_authenticate(other_user)

    response = api_client.get(f"/api/v1/agents/{trader.pk}/{path}")

    assert response.status_code == 404


def test_snapshotting_every_wallet_takes_four_queries_whatever_their_number(
    user, trader, django_assert_num_queries
):
    for name in ("Second", "Third", "Fourth"):
        agent_create(owner=user, name=name)

    # The wallets, their SOL, their open positions, and one INSERT of every snapshot.
    with django_assert_num_queries(4):
        balance_snapshots_record()

    assert BalanceSnapshot.objects.count() == 4


def test_performance_reads_a_fixed_number_of_queries(
    operator, trader, django_assert_max_num_queries
):
    wallet = trader.wallets.get()
    now = datetime.now(UTC)
    for hours in range(48, 0, -4):
        balance_snapshots_record(wallet_ids=[wallet.pk], now=now - timedelta(hours=hours))

    # The agent, its wallet, SOL, open positions, closed trades, snapshots and transfers.
    with django_assert_max_num_queries(7):
        response = operator.get(f"/api/v1/agents/{trader.pk}/performance")

    assert response.json()["equity_points"] == 13  # 12 snapshots and now
