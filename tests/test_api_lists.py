"""Every list of the API takes `limit` and `offset`, refuses them out of bounds with a 400 that
names the parameter, keeps its JSON shape, and gives its total in X-Total-Count."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from agents.services import agent_create, api_key_create
from signals_app.services import signal_create, signal_fan_out
from trading.ledger_services import balance_deposit
from trading.models import CloseReason
from trading.services import position_buy, position_close
from wallets.services import wallet_assign, wallet_create_live

pytestmark = pytest.mark.django_db

# Each list: its path, and the key of its rows in the JSON (None: the body is the array).
LISTS = [
    ("/api/v1/agents", None),
    ("/api/v1/api-keys", None),
    ("/api/v1/trading-signals", "signals"),
    ("/api/v1/trading-signals/{signal}", "executions"),
    ("/api/v1/agents/{agent}/transactions", "transactions"),
    ("/api/v1/agents/{agent}/closed-trades", "closed_trades"),
    ("/api/v1/agents/{agent}/positions", "positions"),
    ("/api/v1/agents/{agent}/balances", "balances"),
    ("/api/v1/agents/{agent}/wallets", "wallets"),
    ("/api/v1/wallets", "wallets"),
    ("/api/v1/agents/{agent}/shadow/trades", "trades"),
]
BAD = [
    ("limit", "0"),
    ("limit", "1001"),
    ("limit", "x"),
    ("offset", "-1"),
    ("offset", "1000001"),
    ("offset", "1.5"),
]


@pytest.fixture
def operator(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def rows(localnet, market, user, agent, funded_wallet):
    """At least two rows in every list but the shadow trades (a live agent's)."""
    for name in ("Beta", "Gamma"):
        agent_create(owner=user, name=name)
    for name in ("one", "two", "three"):
        api_key_create(owner=user, name=name, scopes=["signals"])
    wallet_assign(wallet=wallet_create_live(owner=user), agent=agent)
    wallet_create_live(owner=user)
    balance_deposit(wallet=funded_wallet, amount=Decimal("1"))
    for index in range(5):
        token = market.add_token(
            symbol=f"T{index}",
            price_sol=Decimal("0.001"),
            decimals=6,
            liquidity_sol=Decimal("1000"),
        )
        position = position_buy(
            agent=agent, wallet=funded_wallet, token_address=token, sol_amount=Decimal("0.5")
        ).position
        if index < 3:
            position_close(position_id=position.pk, reason=CloseReason.MANUAL)
    for strength in (1, 2, 3):
        signal, _ = signal_create(
            owner=user, token_address=token, signal_type="BUY", signal_strength=strength
        )
    signal_fan_out(signal_id=signal.pk)
    return {"agent": agent.pk, "signal": signal.pk}


def _items(answer, key):
    assert answer.status_code == 200, answer.content
    body = answer.json()
    return body if key is None else body[key]


@pytest.mark.parametrize(("path", "key"), LISTS)
def test_limit_and_offset_page_every_list_with_its_total(operator, rows, path, key):
    url = path.format(**rows)
    everything = operator.get(url, {"limit": 1000})
    items = _items(everything, key)
    total = int(everything["X-Total-Count"])
    assert total == len(items)
    if key != "trades":
        assert total >= 2, url

    page = operator.get(url, {"limit": 1, "offset": 1})

    assert _items(page, key) == items[1:2]
    assert int(page["X-Total-Count"]) == total
    assert _items(operator.get(url, {"offset": total}), key) == []


@pytest.mark.parametrize(("path", "key"), LISTS)
@pytest.mark.parametrize(("name", "value"), BAD)
def test_a_bad_limit_or_offset_is_a_400_naming_it(operator, agent, path, key, name, value):
    signal, _ = signal_create(
        owner=agent.owner,
        token_address="So11111111111111111111111111111111111111112",
        signal_type="BUY",
        signal_strength=1,
    )
    url = path.format(agent=agent.pk, signal=signal.pk)

    answer = operator.get(url, {name: value})

    assert answer.status_code == 400, (url, answer.content)
    body = answer.json()
    assert body["code"] == "validation_error"
    assert [detail["field"] for detail in body["details"]] == [name]


def test_a_list_without_limit_answers_its_first_hundred(operator, user):
    for index in range(102):
        api_key_create(owner=user, name=f"key {index}", scopes=["signals"])

    answer = operator.get("/api/v1/api-keys")

    assert len(answer.json()) == 100
    assert answer["X-Total-Count"] == "102"
