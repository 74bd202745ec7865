"""GET agents/{id}/transactions and closed-trades: their filters, and the closed trades as
a streamed CSV with the same filters, exact decimals and ISO times."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from nexgent import money
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, CloseReason, Transaction, TransactionType
from trading.services import position_buy, position_close

pytestmark = pytest.mark.django_db

LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def operator(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def trades(localnet, market, agent, wallet):
    """A deposit long ago; then token A bought and closed by hand, token B bought and
    stopped out, token C bought and held."""
    deposit = balance_deposit(wallet=wallet, amount=Decimal("10"))
    Transaction.objects.filter(pk=deposit.pk).update(created_at=LONG_AGO)
    tokens, positions = [], []
    for symbol in ("AAA", "BBB", "CCC"):
        token = market.add_token(
            symbol=symbol, price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("1000")
        )
        tokens.append(token)
        positions.append(
            position_buy(
                agent=agent, wallet=wallet, token_address=token, sol_amount=Decimal("1")
            ).position
        )
    position_close(position_id=positions[0].pk, reason=CloseReason.MANUAL)
    position_close(position_id=positions[1].pk, reason=CloseReason.STOP_LOSS)
    return {"tokens": tokens, "positions": positions, "deposit": deposit}


def _transactions(operator, agent, **params):
    answer = operator.get(f"/api/v1/agents/{agent.pk}/transactions", params)
    assert answer.status_code == 200, answer.content
    return answer.json()["transactions"]


def _closed(operator, agent, **params):
    answer = operator.get(f"/api/v1/agents/{agent.pk}/closed-trades", params)
    assert answer.status_code == 200, answer.content
    return answer.json()["closed_trades"]


def test_transactions_filter_by_type_token_position_and_time(operator, agent, trades):
    a, b, _ = trades["tokens"]
    first = trades["positions"][0]

    assert [t["type"] for t in _transactions(operator, agent, type="DEPOSIT")] == ["DEPOSIT"]
    by_token = _transactions(operator, agent, token=a)
    assert len(by_token) == 2
    assert all(a in (t["input_mint"], t["output_mint"]) for t in by_token)
    assert _transactions(operator, agent, position=first.pk) == by_token
    since = LONG_AGO + timedelta(days=1)
    assert len(_transactions(operator, agent, **{"from": since.isoformat()})) == 5
    assert [t["id"] for t in _transactions(operator, agent, to="2026-01-02")] == [
        trades["deposit"].pk
    ]
    assert _transactions(operator, agent, type="SWAP", token=b, is_take_profit="false")
    assert _transactions(operator, agent, is_dca="true") == []
    assert _transactions(operator, agent, position=999_999) == []


def test_a_time_range_that_ends_before_it_starts_is_a_400_naming_to(operator, agent):
    answer = operator.get(
        f"/api/v1/agents/{agent.pk}/transactions",
        {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
    )
    assert answer.status_code == 400
    assert [d["field"] for d in answer.json()["details"]] == ["to"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("type", "GIFT"), ("from", "yesterday"), ("position", "x"), ("is_dca", "maybe")],
)
def test_a_bad_transaction_filter_is_a_400_naming_it(operator, agent, name, value):
    answer = operator.get(f"/api/v1/agents/{agent.pk}/transactions", {name: value})
    assert answer.status_code == 400
    assert [d["field"] for d in answer.json()["details"]] == [name]


def test_closed_trades_filter_by_reason_token_and_time(operator, agent, trades):
    a, b, _ = trades["tokens"]

    assert [t["token_address"] for t in _closed(operator, agent)] == [b, a]
    assert [t["token_address"] for t in _closed(operator, agent, close_reason="stop_loss")] == [b]
    assert [t["close_reason"] for t in _closed(operator, agent, token=a)] == ["manual"]
    assert _closed(operator, agent, to=LONG_AGO.isoformat()) == []
    assert len(_closed(operator, agent, **{"from": LONG_AGO.isoformat()})) == 2
    answer = operator.get(f"/api/v1/agents/{agent.pk}/closed-trades", {"close_reason": "luck"})
    assert answer.status_code == 400


def _csv(answer) -> list[dict]:
    assert answer.status_code == 200, answer.content
    assert answer.streaming
    assert answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"].startswith("attachment")
    text = b"".join(answer.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("how", ["format", "accept"])
def test_closed_trades_export_as_csv_with_exact_decimals_and_iso_times(
    operator, agent, trades, how
):
    url = f"/api/v1/agents/{agent.pk}/closed-trades"
    if how == "format":
        answer = operator.get(url, {"format": "csv"})
    else:
        answer = operator.get(url, HTTP_ACCEPT="text/csv")

    rows = _csv(answer)

    stored = {trade.pk: trade for trade in ClosedTrade.objects.filter(agent=agent)}
    assert [int(row["id"]) for row in rows] == sorted(stored, reverse=True)
    for row in rows:
        trade = stored[int(row["id"])]
        assert row["position_id"] == str(trade.position_id)
        assert row["profit_loss_sol"] == money.as_str(trade.profit_loss_sol)
        assert Decimal(row["received_sol"]) == trade.received_sol
        assert row["change_percent"] == money.as_str(trade.change_percent)
        assert datetime.fromisoformat(row["closed_at"]) == trade.closed_at
        assert row["close_reason"] == trade.close_reason


def test_the_csv_export_honours_the_filters_and_a_page(operator, agent, trades):
    url = f"/api/v1/agents/{agent.pk}/closed-trades"
    a = trades["tokens"][0]

    assert [
        row["token_address"] for row in _csv(operator.get(url, {"format": "csv", "token": a}))
    ] == [a]
    assert len(_csv(operator.get(url, {"format": "csv", "limit": 1, "offset": 1}))) == 1
    header = b"".join(
        operator.get(url, {"format": "csv", "close_reason": "take_profit"}).streaming_content
    )
    assert header.decode().strip().split(",")[:3] == ["id", "position_id", "token_address"]


def test_a_bad_filter_of_the_csv_export_answers_json(operator, agent):
    answer = operator.get(
        f"/api/v1/agents/{agent.pk}/closed-trades", {"format": "csv", "from": "soon"}
    )
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/json")
    assert answer.json()["details"][0]["field"] == "from"


def test_the_swap_entries_of_the_ledger_are_listed_once_each(operator, agent, trades):
    listed = _transactions(operator, agent, type=TransactionType.SWAP, limit=1000)
    assert len(listed) == len({t["id"] for t in listed}) == 5
