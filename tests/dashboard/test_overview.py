"""The overview's figures per agent (equity, realised P/L over 24h, 7d and all time, win rate)
and the banner every page shows while a price is stale, the kill switch is on or the tick is
late."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from prices.clients import SolUsd
from prices.selectors import SOL_USD_KEY
from tests.dashboard.factories import make_closed_trade
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade
from trading.risk_services import kill_switch_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, user):
    client.force_login(user)
    return client


def row_of(body: str, agent_id: int) -> str:
    return re.search(rf'<tr data-agent-id="{agent_id}">(.*?)</tr>', body, re.S).group(1)


def test_each_agent_shows_equity_pnl_by_timeframe_and_win_rate(operator, agent, wallet):
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    make_closed_trade(agent, wallet, symbol="WIN", profit_loss="0.5")
    make_closed_trade(agent, wallet, symbol="LOSS", profit_loss="-0.2")
    old = make_closed_trade(agent, wallet, symbol="OLD", profit_loss="1")
    ClosedTrade.objects.filter(pk=old.pk).update(closed_at=datetime.now(UTC) - timedelta(days=3))

    row = row_of(operator.get(reverse("dashboard-home")).content.decode(), agent.pk)

    assert 'data-equity="5' in row
    assert 'data-pnl-24h="0.3' in row
    assert 'data-pnl-7d="1.3' in row
    assert 'data-pnl-all="1.3' in row
    assert re.search(r"data-win-rate>67%<", row)


def test_an_agent_without_trades_shows_no_win_rate(operator, agent, wallet):
    row = row_of(operator.get(reverse("dashboard-home")).content.decode(), agent.pk)

    assert "data-win-rate>\u2013<" in row


def test_the_banner_shows_a_stale_sol_usd_and_prices_are_not_called_fresh(
    operator, agent, settings
):
    published = datetime.now(UTC) - timedelta(seconds=settings.PRICE_STALE_SECONDS + 60)
    cache.set(SOL_USD_KEY, SolUsd(Decimal("150"), published))

    body = operator.get(reverse("dashboard-home")).content.decode()

    assert "Sol usd: stale" in body
    assert "Prices: stale" in body
    assert "Prices: fresh" not in body


def test_a_fresh_sol_usd_is_no_banner(operator, agent):
    cache.set(SOL_USD_KEY, SolUsd(Decimal("150"), datetime.now(UTC)))

    body = operator.get(reverse("dashboard-home")).content.decode()

    assert "Sol usd" not in body
    assert "Prices: fresh" in body


def test_the_banner_shows_the_kill_switch_on_every_page(operator, agent, user):
    kill_switch_set(mode="reduce_only", user=user, note="exchange incident")

    for url in (reverse("dashboard-home"), reverse("dashboard-signals")):
        body = operator.get(url).content.decode()
        assert "Kill switch: Reduce only: sells only: exchange incident" in body

    kill_switch_set(mode="off", user=user)
    assert "Kill switch" not in operator.get(reverse("dashboard-home")).content.decode()
