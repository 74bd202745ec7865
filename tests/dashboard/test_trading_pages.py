"""The trading pages: a position with its chart and transactions, its close from the
dashboard, the closed trades and transactions with their filters, pages and CSV, and the
agent page's performance and equity chart."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from prices.selectors import LatestPrice
from prices.services import price_history_record
from tests.dashboard.factories import make_agent, make_closed_trade, make_position, make_wallet
from trading.history_selectors import close_reason_label
from trading.ledger_services import balance_deposit, balance_withdraw
from trading.models import ClosedTrade, Position, PositionStatus, Transaction
from trading.services import position_buy

pytestmark = pytest.mark.django_db

JSON_SCRIPT = re.compile(r'<script id="([a-z-]+)" type="application/json">(.*?)</script>', re.S)


def json_data(body: str, element_id: str):
    scripts = dict(JSON_SCRIPT.findall(body))
    return json.loads(scripts[element_id])


def rows(body: str, table_id: str, attribute: str) -> list[str]:
    table = body.split(f'id="{table_id}"')[1].split("</table>")[0]
    return re.findall(rf'{attribute}="(\d+)"', table)


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="CHRT", price_sol=Decimal("0.01"), decimals=6, liquidity_sol=Decimal("50000")
    )


@pytest.fixture
def bought(localnet, funded_wallet, agent, token):
    return position_buy(
        agent=agent,
        wallet=funded_wallet,
        token_address=token,
        token_symbol="CHRT",
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal("-32"),
    ).position


# ---- close reasons ---------------------------------------------------------------------------


def test_a_stop_that_sold_in_profit_reads_as_a_trailing_stop():
    assert close_reason_label("stop_loss", Decimal("0.1")) == "Trailing stop"
    assert close_reason_label("stop_loss", Decimal("0")) == "Stop loss"
    assert close_reason_label("stop_loss", Decimal("-0.1")) == "Stop loss"
    assert close_reason_label("take_profit", Decimal("1")) == "Take profit"
    assert close_reason_label("stale_trade", Decimal("0")) == "Stale"
    assert close_reason_label("rug_pull", Decimal("-1")) == "Rug write-off"
    assert close_reason_label("manual", Decimal("0")) == "Manual"


# ---- the agent page --------------------------------------------------------------------------


def test_agent_page_shows_performance_cards_and_equity_points(client, user, agent, funded_wallet):
    make_closed_trade(agent, funded_wallet, symbol="UP", profit_loss="0.5")
    make_closed_trade(agent, funded_wallet, symbol="DOWN", profit_loss="-0.25")
    client.force_login(user)

    body = client.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()

    for figure, value in (
        ("equity_sol", "10"),
        ("realised_pnl_sol", "0.25"),
        ("unrealised_pnl_sol", "0"),
        ("win_rate_percent", "50"),
        ("profit_factor", "2"),
        ("max_drawdown_sol", "0"),
    ):
        assert f'data-figure="{figure}" data-value="{value}"' in body
    assert 'id="equity-chart"' in body
    points = json_data(body, "equity-data")["points"]
    assert points[-1]["equity"] == "10"
    # The UP trade was a stop loss that made money: the recent trades call it what it was.
    assert "Trailing stop" in body and "Stop loss" in body
    words = json_data(body, "close-reason-words")
    assert words["words"][words["trailing"]] == "Trailing stop"


def test_htmx_asks_for_the_performance_cards_alone(client, user, agent, funded_wallet):
    client.force_login(user)
    url = reverse("dashboard-agent", args=[agent.pk])

    page = client.get(url)
    cards = client.get(url, {"timeframe": "7d"}, headers={"HX-Request": "true"})

    body = cards.content.decode()
    assert body.lstrip().startswith('<div id="performance"')
    assert 'data-timeframe="7d"' in body and 'hx-trigger="trade-closed from:body"' in body
    assert 'data-figure="equity_sol" data-value="10"' in body
    assert "<html" not in body and 'id="open-positions"' not in body
    assert "HX-Request" in cards["Vary"] and "HX-Request" in page["Vary"]


def test_agent_page_performance_takes_a_timeframe(client, user, agent, funded_wallet):
    client.force_login(user)

    body = client.get(
        reverse("dashboard-agent", args=[agent.pk]), {"timeframe": "7d"}
    ).content.decode()
    assert 'data-timeframe="7d"' in body
    body = client.get(
        reverse("dashboard-agent", args=[agent.pk]), {"timeframe": "bogus"}
    ).content.decode()
    assert 'data-timeframe="all"' in body


# ---- a position ------------------------------------------------------------------------------


def test_position_page_has_its_price_history_trades_and_lines(client, user, agent, bought, token):
    later = bought.opened_at + timedelta(seconds=5)
    price_history_record(
        [
            LatestPrice(token, Decimal("0.0105"), None, later, "test"),
            LatestPrice(token, Decimal("0.011"), None, later + timedelta(seconds=5), "test"),
        ]
    )
    client.force_login(user)

    response = client.get(reverse("dashboard-position", args=[agent.pk, bought.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    chart = json_data(body, "price-data")
    prices = [point["price"] for point in chart["points"]]
    assert "0.0105" in prices and "0.011" in prices
    assert [m["text"] for m in chart["markers"]] == ["Buy"]
    buy = Transaction.objects.get(position=bought)
    assert chart["markers"][0]["price"] == str(buy.price.normalize())
    kinds = {line["kind"]: line["price"] for line in chart["lines"]}
    assert Decimal(kinds["entry"]) == bought.purchase_price
    assert Decimal(kinds["stop"]) < bought.purchase_price
    assert rows(body, "position-transactions", "data-transaction-id") == [str(buy.pk)]
    assert 'data-chart="price"' in body
    assert reverse("dashboard-position-close", args=[agent.pk, bought.pk]) in body


def test_position_page_draws_take_profit_levels_when_enabled(localnet, client, user, token, market):
    from agents.services import agent_create

    agent = agent_create(
        owner=user, name="Ladder", config={"take_profit": {"enabled": True, "mode": "moderate"}}
    )
    wallet = agent.wallets.get()
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    position = position_buy(
        agent=agent, wallet=wallet, token_address=token, sol_amount=Decimal("1")
    ).position
    client.force_login(user)

    body = client.get(reverse("dashboard-position", args=[agent.pk, position.pk])).content.decode()

    names = [line["name"] for line in json_data(body, "price-data")["lines"]]
    assert names == ["Entry", "Stop", "TP +50%", "TP +150%", "TP +300%", "TP +400%"]


def test_another_users_position_is_not_found(client, other_user, agent, bought):
    client.force_login(other_user)

    assert client.get(reverse("dashboard-position", args=[agent.pk, bought.pk])).status_code == 404
    mine = make_agent(other_user, name="Theirs")
    # Their own agent's id with someone else's position: not found either.
    assert client.get(reverse("dashboard-position", args=[mine.pk, bought.pk])).status_code == 404


# ---- closing a position ----------------------------------------------------------------------


def test_the_close_button_asks_first_then_closes_through_the_service(client, user, agent, bought):
    client.force_login(user)
    close_url = reverse("dashboard-position-close", args=[agent.pk, bought.pk])
    agent_url = reverse("dashboard-agent", args=[agent.pk])

    confirm = client.get(close_url, {"next": agent_url})
    assert confirm.status_code == 200
    assert Position.objects.get(pk=bought.pk).status == PositionStatus.OPEN
    assert 'id="confirm-close"' in confirm.content.decode()

    response = client.post(close_url, {"next": agent_url}, follow=True)

    assert response.redirect_chain == [(agent_url, 302)]
    position = Position.objects.get(pk=bought.pk)
    assert position.status == PositionStatus.CLOSED
    assert position.close_reason == "manual"
    trade = ClosedTrade.objects.get(position=position)
    body = response.content.decode()
    assert "Closed CHRT: received" in body
    assert "Manual" in body.split('id="closed-trades"')[1]
    assert trade.received_sol > 0


def test_closing_twice_says_it_is_already_closed(client, user, agent, bought):
    client.force_login(user)
    close_url = reverse("dashboard-position-close", args=[agent.pk, bought.pk])
    client.post(close_url)

    response = client.post(close_url, follow=True)

    assert "the position is already closed" in response.content.decode()
    assert ClosedTrade.objects.filter(position=bought).count() == 1


def test_a_halted_engine_refuses_the_close_with_a_message(client, user, agent, bought):
    from trading.risk_services import kill_switch_set

    kill_switch_set(mode="halt", user=user, note="test")
    client.force_login(user)

    response = client.post(
        reverse("dashboard-position-close", args=[agent.pk, bought.pk]), follow=True
    )

    assert "kill switch" in response.content.decode()
    assert Position.objects.get(pk=bought.pk).status == PositionStatus.OPEN


def test_another_user_cannot_close_a_position(client, other_user, agent, bought):
    client.force_login(other_user)

    response = client.post(reverse("dashboard-position-close", args=[agent.pk, bought.pk]))

    assert response.status_code == 404
    assert Position.objects.get(pk=bought.pk).status == PositionStatus.OPEN


def test_the_close_needs_the_csrf_token(user, agent, bought):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(reverse("dashboard-position-close", args=[agent.pk, bought.pk]))

    assert response.status_code == 403
    assert Position.objects.get(pk=bought.pk).status == PositionStatus.OPEN


def test_the_close_does_not_redirect_off_site(client, user, agent, bought):
    client.force_login(user)

    response = client.post(
        reverse("dashboard-position-close", args=[agent.pk, bought.pk]),
        {"next": "https://evil.example/"},
    )

    assert response.url == reverse("dashboard-agent", args=[agent.pk])


# ---- closed trades ---------------------------------------------------------------------------


@pytest.fixture
def trades(user):
    agent = make_agent(user, name="History")
    wallet = make_wallet(agent)
    day = datetime(2025, 3, 10, 12, tzinfo=UTC)
    made = {
        "trailing": make_closed_trade(
            agent, wallet, symbol="TRAIL", profit_loss="0.3", closed_at=day
        ),
        "loss": make_closed_trade(
            agent, wallet, symbol="LOSS", profit_loss="-0.2", closed_at=day + timedelta(days=1)
        ),
        "tp": make_closed_trade(
            agent,
            wallet,
            symbol="MOON",
            profit_loss="1.123456789012345678",
            close_reason="take_profit",
            closed_at=day + timedelta(days=2),
        ),
    }
    return agent, made


def _trade_ids(client, agent, **query) -> list[str]:
    body = client.get(reverse("dashboard-trades", args=[agent.pk]), query).content.decode()
    return rows(body, "trades", "data-position-id")


def test_trades_filter_by_close_reason_in_words(client, user, trades):
    agent, made = trades
    client.force_login(user)

    assert _trade_ids(client, agent, reason="trailing_stop") == [str(made["trailing"].position_id)]
    assert _trade_ids(client, agent, reason="stop_loss") == [str(made["loss"].position_id)]
    assert _trade_ids(client, agent, reason="take_profit") == [str(made["tp"].position_id)]
    body = client.get(reverse("dashboard-trades", args=[agent.pk])).content.decode()
    assert "Trailing stop" in body and "Stop loss" in body and "Take profit" in body


def test_trades_filter_by_token_and_dates(client, user, trades):
    agent, made = trades
    client.force_login(user)

    assert _trade_ids(client, agent, token="moon") == [str(made["tp"].position_id)]
    assert _trade_ids(client, agent, token=made["loss"].token_address) == [
        str(made["loss"].position_id)
    ]
    assert _trade_ids(client, agent, date_from="2025-03-11", date_to="2025-03-11") == [
        str(made["loss"].position_id)
    ]
    assert _trade_ids(client, agent, date_from="2025-03-11") == [
        str(made["tp"].position_id),
        str(made["loss"].position_id),
    ]
    body = client.get(
        reverse("dashboard-trades", args=[agent.pk]),
        {"date_from": "2025-03-12", "date_to": "2025-03-10"},
    ).content.decode()
    assert "Must not be before the start date." in body


def test_trades_page_by_limit_and_offset_with_links(client, user, trades):
    agent, made = trades
    client.force_login(user)
    url = reverse("dashboard-trades", args=[agent.pk])

    first = client.get(url, {"limit": 2}).content.decode()
    assert rows(first, "trades", "data-position-id") == [
        str(made["tp"].position_id),
        str(made["loss"].position_id),
    ]
    assert 'rel="next" class="button" href="?limit=2&amp;offset=2"' in first
    assert 'rel="prev"' not in first

    second = client.get(url, {"limit": 2, "offset": 2}).content.decode()
    assert rows(second, "trades", "data-position-id") == [str(made["trailing"].position_id)]
    assert 'rel="next"' not in second
    assert 'rel="prev" class="button" href="?limit=2"' in second


def test_an_htmx_filter_gets_only_the_history_fragment(client, user, trades):
    agent, made = trades
    client.force_login(user)
    url = reverse("dashboard-trades", args=[agent.pk])

    response = client.get(url, {"reason": "take_profit"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert "<html" not in body and body.lstrip().startswith('<section id="history"')
    assert rows(body, "trades", "data-position-id") == [str(made["tp"].position_id)]
    assert "reason=take_profit" in body.split('id="csv-export"')[1].split(">")[0]
    assert "HX-Request" in response["Vary"]


def test_the_back_button_restores_the_whole_history_page(client, user, trades):
    agent, _ = trades
    client.force_login(user)
    url = reverse("dashboard-transactions", args=[agent.pk])

    restored = client.get(
        url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    ).content.decode()
    fragment = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" in restored and 'id="history"' in restored
    assert "<html" not in fragment and 'id="transactions"' in fragment


def test_trades_csv_has_the_filtered_rows_with_exact_decimals(client, user, trades):
    agent, made = trades
    client.force_login(user)

    response = client.get(reverse("dashboard-trades-csv", args=[agent.pk]), {"token": "MOON"})

    assert response["Content-Type"].startswith("text/csv")
    assert f"agent-{agent.pk}-trades.csv" in response["Content-Disposition"]
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    trade = made["tp"]
    assert table == [
        [
            "id",
            "position_id",
            "token_address",
            "token_symbol",
            "opened_at",
            "closed_at",
            "close_reason",
            "close_reason_label",
            "purchase_price",
            "sale_price",
            "tokens_bought",
            "invested_sol",
            "received_sol",
            "profit_loss_sol",
            "profit_loss_usd",
            "change_percent",
            "sol_usd",
        ],
        [
            str(trade.pk),
            str(trade.position_id),
            trade.token_address,
            "MOON",
            trade.opened_at.isoformat(),
            "2025-03-12T12:00:00+00:00",
            "take_profit",
            "Take profit",
            "0.000001",
            "",
            "1000000",
            "1",
            "2.123456789012345678",
            "1.123456789012345678",
            "",
            "112.3456789012",
            "",
        ],
    ]


def test_trades_of_another_users_agent_are_not_found(client, other_user, trades):
    agent, _ = trades
    client.force_login(other_user)

    assert client.get(reverse("dashboard-trades", args=[agent.pk])).status_code == 404
    assert client.get(reverse("dashboard-trades-csv", args=[agent.pk])).status_code == 404


# ---- transactions ----------------------------------------------------------------------------


@pytest.fixture
def entries(user, agent, wallet):
    deposit = balance_deposit(wallet=wallet, amount=Decimal("2.5"))
    withdrawal = balance_withdraw(wallet=wallet, amount=Decimal("0.000000000000000001"))
    later = balance_deposit(wallet=wallet, amount=Decimal("1"))
    # A day apart, for the date filter.
    start = timezone.now().replace(microsecond=0) - timedelta(days=3)
    for offset, entry in enumerate((deposit, withdrawal, later)):
        Transaction.objects.filter(pk=entry.pk).update(created_at=start + timedelta(days=offset))
        entry.refresh_from_db()
    return deposit, withdrawal, later


def _entry_ids(client, agent, **query) -> list[str]:
    body = client.get(reverse("dashboard-transactions", args=[agent.pk]), query).content.decode()
    return rows(body, "transactions", "data-transaction-id")


def test_transactions_filter_by_type_token_and_date(client, user, agent, entries):
    deposit, withdrawal, later = entries
    client.force_login(user)

    assert _entry_ids(client, agent) == [str(later.pk), str(withdrawal.pk), str(deposit.pk)]
    assert _entry_ids(client, agent, type="WITHDRAWAL") == [str(withdrawal.pk)]
    assert _entry_ids(client, agent, token="sol") == [
        str(later.pk),
        str(withdrawal.pk),
        str(deposit.pk),
    ]
    assert _entry_ids(client, agent, token="OTHER") == []
    day = withdrawal.created_at.date().isoformat()
    assert _entry_ids(client, agent, date_from=day, date_to=day) == [str(withdrawal.pk)]


def test_transactions_page_by_limit_and_offset(client, user, agent, entries):
    _, withdrawal, _ = entries
    client.force_login(user)
    url = reverse("dashboard-transactions", args=[agent.pk])

    middle = client.get(url, {"limit": 1, "offset": 1, "type": "WITHDRAWAL"})
    assert rows(middle.content.decode(), "transactions", "data-transaction-id") == []
    page = client.get(url, {"limit": 1, "offset": 1}).content.decode()
    assert rows(page, "transactions", "data-transaction-id") == [str(withdrawal.pk)]
    assert 'href="?limit=1&amp;offset=2"' in page
    assert 'rel="prev" class="button" href="?limit=1"' in page


def test_transactions_csv_is_exact(client, user, agent, entries):
    _, withdrawal, _ = entries
    client.force_login(user)

    response = client.get(
        reverse("dashboard-transactions-csv", args=[agent.pk]), {"type": "WITHDRAWAL"}
    )

    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert table[0][:7] == [
        "id",
        "created_at",
        "type",
        "position_id",
        "input_mint",
        "input_symbol",
        "input_amount",
    ]
    assert len(table) == 2
    row = dict(zip(table[0], table[1], strict=True))
    assert row["id"] == str(withdrawal.pk)
    assert row["created_at"] == withdrawal.created_at.isoformat()
    assert row["type"] == "WITHDRAWAL"
    assert row["input_amount"] == "0.000000000000000001"
    assert row["output_amount"] == ""
    assert row["is_dca"] == "false"


def test_transactions_of_another_users_agent_are_not_found(client, other_user, agent, entries):
    client.force_login(other_user)

    assert client.get(reverse("dashboard-transactions", args=[agent.pk])).status_code == 404
    assert client.get(reverse("dashboard-transactions-csv", args=[agent.pk])).status_code == 404


def test_position_rows_link_to_their_page(client, user, agent, wallet):
    position = make_position(agent, wallet, "MintLink", symbol="LNK")
    make_closed_trade(agent, wallet, symbol="DONE", profit_loss="0")
    client.force_login(user)

    body = client.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()

    # Open positions come over the WebSocket; the page tells the script where their pages are.
    assert f'data-positions-url="/agents/{agent.pk}/positions/"' in body
    assert reverse("dashboard-position", args=[agent.pk, position.pk]) not in body
    trade = ClosedTrade.objects.get(token_symbol="DONE")
    assert reverse("dashboard-position", args=[agent.pk, trade.position_id]) in body
