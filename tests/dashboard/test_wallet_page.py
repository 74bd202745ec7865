"""The wallet page: balances, simulated SOL deposited and withdrawn once per form, and the live
wallet created, imported, assigned, unassigned and reconciled against localnet's chain."""

import re
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from solders.keypair import Keypair

from nexgent import money
from trading.models import Balance, Transaction, TransactionType
from wallets.models import AgentWallet
from wallets.services import wallet_assign, wallet_import

pytestmark = pytest.mark.django_db

LAMPORTS = 10**9


@pytest.fixture
def operator(client, user):
    client.force_login(user)
    return client


def sol_of(wallet) -> Decimal:
    row = Balance.objects.filter(wallet=wallet, token_address=money.WSOL_MINT).first()
    return Decimal(0) if row is None else row.amount


def transfer(client, agent, amount, *, kind="DEPOSIT", key=None):
    return client.post(
        reverse("dashboard-agent-wallet-transfer", args=[agent.pk]),
        {"kind": kind, "amount": amount, "idempotency_key": key or str(uuid.uuid4())},
    )


def test_the_page_shows_balances_and_a_fresh_key_per_form(operator, agent, funded_wallet):
    first = operator.get(reverse("dashboard-agent-wallet", args=[agent.pk])).content.decode()
    second = operator.get(reverse("dashboard-agent-wallet", args=[agent.pk])).content.decode()

    assert '<td class="num" data-label="Amount">10</td>' in first  # exact, no padding zeros
    keys = [
        re.search(r'name="idempotency_key" value="([^"]+)"', body)[1] for body in (first, second)
    ]
    assert keys[0] != keys[1]


def test_a_new_agents_page_offers_a_deposit_first(operator, agent):
    body = operator.get(reverse("dashboard-agent-wallet", args=[agent.pk])).content.decode()

    assert re.search(r'<input type="radio" name="kind" value="DEPOSIT"[^>]* checked', body)


def test_a_deposit_is_recorded_and_the_page_says_so(operator, agent, wallet):
    response = transfer(operator, agent, "2.5")

    assert response.status_code == 302
    assert sol_of(wallet) == Decimal("2.5")
    page = operator.get(response.url).content.decode()
    assert "Deposited 2.5 SOL." in page
    assert '<td class="num" data-label="Amount">2.5</td>' in page


def test_a_double_submitted_deposit_deposits_once(operator, agent, wallet):
    key = str(uuid.uuid4())

    first = transfer(operator, agent, "1", key=key)
    again = transfer(operator, agent, "1", key=key)

    assert first.status_code == again.status_code == 302
    assert sol_of(wallet) == Decimal(1)
    assert Transaction.objects.filter(wallet=wallet, type=TransactionType.DEPOSIT).count() == 1
    assert "already recorded" in operator.get(again.url).content.decode()


def test_withdrawing_more_than_held_shows_the_message_and_changes_nothing(
    operator, agent, funded_wallet
):
    response = transfer(operator, agent, "11", kind="WITHDRAWAL")

    assert response.status_code == 400
    assert response.context["transfer_form"].errors["amount"]
    assert sol_of(funded_wallet) == Decimal(10)


@pytest.mark.parametrize("amount", ["0", "-1", "abc", "0.0000000001"])
def test_a_bad_amount_shows_the_fields_message(operator, agent, wallet, amount):
    response = transfer(operator, agent, amount)

    assert response.status_code == 400
    assert response.context["transfer_form"].errors["amount"]
    assert not Transaction.objects.filter(wallet=wallet).exists()


def test_another_users_agent_and_wallet_are_404(operator, other_user, keypair_of_other):
    from agents.services import agent_create

    theirs = agent_create(owner=other_user, name="Theirs")
    wallet = wallet_assign(wallet=keypair_of_other, agent=theirs)

    assert transfer(operator, theirs, "1").status_code == 404
    for name in ("dashboard-agent-wallet-check", "dashboard-agent-wallet-unassign"):
        url = reverse(name, args=[theirs.pk, wallet.address])
        assert operator.post(url, {"confirm": "1"}).status_code == 404
    wallet.refresh_from_db()
    assert wallet.agent_id == theirs.pk
    assert sol_of(theirs.wallets.get(mode="simulation")) == 0


@pytest.fixture
def keypair_of_other(other_user):
    return wallet_import(owner=other_user, secret=str(Keypair()))


def test_the_transfer_needs_the_csrf_token(user, agent, wallet):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    assert transfer(browser, agent, "1").status_code == 403
    assert sol_of(wallet) == 0


def test_a_live_wallet_is_created_then_assigned(operator, agent, user):
    operator.post(reverse("dashboard-agent-wallet-create", args=[agent.pk]))
    wallet = AgentWallet.objects.get(owner=user, mode="live")
    assert wallet.agent_id is None

    response = operator.post(
        reverse("dashboard-agent-wallet-assign", args=[agent.pk, wallet.address])
    )

    assert response.status_code == 302
    wallet.refresh_from_db()
    assert wallet.agent_id == agent.pk


def test_a_key_is_imported_in_the_formats_the_api_takes(operator, agent, user):
    keypair = Keypair()

    response = operator.post(
        reverse("dashboard-agent-wallet-import", args=[agent.pk]), {"secret": str(keypair)}
    )

    assert response.status_code == 302
    assert AgentWallet.objects.filter(owner=user, address=str(keypair.pubkey())).exists()


def test_a_bad_key_shows_the_fields_message_and_stores_nothing(operator, agent):
    response = operator.post(
        reverse("dashboard-agent-wallet-import", args=[agent.pk]), {"secret": "not a key"}
    )

    assert response.status_code == 400
    assert response.context["import_form"].errors["secret"]
    assert not AgentWallet.objects.filter(mode="live").exists()


def test_unassign_asks_to_confirm_first(operator, agent, user):
    wallet = wallet_assign(wallet=wallet_import(owner=user, secret=str(Keypair())), agent=agent)
    url = reverse("dashboard-agent-wallet-unassign", args=[agent.pk, wallet.address])

    assert operator.post(url).status_code == 200
    wallet.refresh_from_db()
    assert wallet.agent_id == agent.pk

    assert operator.post(url, {"confirm": "1"}).status_code == 302
    wallet.refresh_from_db()
    assert wallet.agent_id is None


def test_check_deposits_records_what_arrived_on_chain_once(operator, agent, user, market, localnet):
    market.set_slot_time(None)
    keypair = Keypair()
    wallet = wallet_assign(wallet=wallet_import(owner=user, secret=str(keypair)), agent=agent)
    market.chain.fund(keypair.pubkey(), LAMPORTS)
    url = reverse("dashboard-agent-wallet-check", args=[agent.pk, wallet.address])

    first = operator.get(operator.post(url).url).content.decode()
    again = operator.get(operator.post(url).url).content.decode()

    assert "Found and recorded a deposit of 1 SOL." in first
    assert "No new deposit" in again
    assert sol_of(wallet) == Decimal(1)
    page = operator.get(reverse("dashboard-agent-wallet", args=[agent.pk])).content.decode()
    assert "In step with the chain" in page
    assert 'id="shadow"' in page


def test_check_deposits_with_the_chain_down_records_nothing(
    operator, agent, user, market, localnet
):
    market.set_slot_time(None)
    keypair = Keypair()
    wallet = wallet_assign(wallet=wallet_import(owner=user, secret=str(keypair)), agent=agent)
    market.chain.fund(keypair.pubkey(), LAMPORTS)
    market.inject_fault("solana_rpc", status=500, count=3)

    response = operator.post(
        reverse("dashboard-agent-wallet-check", args=[agent.pk, wallet.address])
    )

    assert "could not be read" in operator.get(response.url).content.decode()
    assert sol_of(wallet) == 0
