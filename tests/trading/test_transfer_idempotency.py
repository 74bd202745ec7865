"""Deposits and withdrawals take an Idempotency-Key, as signals do: a retried request (the
client never saw the answer) writes nothing twice and answers what the first one wrote; the
same key for another transfer is refused; keys are the wallet's own."""

import functools
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from agents.services import agent_create
from nexgent import money
from tests.backends import on_postgres
from tests.trading.ledger import Racers
from trading.ledger_services import balance_transfer
from trading.models import Balance, Transaction, TransactionType

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _post(operator, agent, body, key):
    return operator.post(
        f"/api/v1/agents/{agent.pk}/transactions", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def _sol(wallet) -> Decimal:
    return Balance.objects.get(wallet=wallet, token_address=money.WSOL_MINT).amount


def test_a_retried_deposit_lands_once(operator, agent, wallet):
    body = {"type": "DEPOSIT", "amount": "2.5"}
    first = _post(operator, agent, body, "dep-0001")
    again = _post(operator, agent, body, "dep-0001")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Transaction.objects.filter(wallet=wallet).count() == 1
    assert _sol(wallet) == Decimal("2.5")


def test_a_retried_withdrawal_lands_once(operator, agent, wallet):
    _post(operator, agent, {"type": "DEPOSIT", "amount": "5"}, "dep-0001")
    body = {"type": "WITHDRAWAL", "amount": "1"}
    assert _post(operator, agent, body, "wd-0001").status_code == 201
    assert _post(operator, agent, body, "wd-0001").status_code == 200
    assert _sol(wallet) == Decimal("4")


def test_the_same_key_for_another_transfer_is_refused(operator, agent, wallet):
    _post(operator, agent, {"type": "DEPOSIT", "amount": "1"}, "key-1")

    refused = _post(operator, agent, {"type": "DEPOSIT", "amount": "2"}, "key-1")

    assert refused.status_code == 409
    assert refused.json()["code"] == "idempotency_key_reused"
    assert _sol(wallet) == Decimal("1")


def test_keys_belong_to_their_wallet(operator, user, agent, wallet):
    other = agent_create(owner=user, name="Beta")
    body = {"type": "DEPOSIT", "amount": "1"}
    assert _post(operator, agent, body, "same-key").status_code == 201
    assert _post(operator, other, body, "same-key").status_code == 201
    assert _sol(other.wallets.get(mode="simulation")) == Decimal("1")


def test_without_a_key_every_request_is_a_new_transfer(operator, agent, wallet):
    url = f"/api/v1/agents/{agent.pk}/transactions"
    for _ in range(2):
        operator.post(url, {"type": "DEPOSIT", "amount": "1"}, format="json")
    assert _sol(wallet) == Decimal("2")


def test_a_key_too_long_is_a_400_naming_the_header(operator, agent, wallet):
    response = _post(operator, agent, {"type": "DEPOSIT", "amount": "1"}, "k" * 65)
    assert response.status_code == 400
    assert response.json()["details"] == [{"field": "Idempotency-Key", "message": "too long"}]
    assert not Transaction.objects.exists()


@on_postgres
def test_racing_retries_of_one_deposit_land_once(agent, wallet):
    deposit = functools.partial(
        balance_transfer,
        wallet=wallet,
        kind=TransactionType.DEPOSIT,
        amount=Decimal("3"),
        idempotency_key="race-1",
    )
    with Racers(8) as racers:
        outcomes = racers.run(deposit)

    assert [o.error for o in outcomes if o.error is not None] == []
    assert sum(created for _, created in (o.value for o in outcomes)) == 1
    assert Transaction.objects.filter(wallet=wallet).count() == 1
    assert _sol(wallet) == Decimal("3")
