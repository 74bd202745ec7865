"""Unassign, reset (both need `confirm: true`) and export (needs the password again)."""

from decimal import Decimal

import pytest
from solders.keypair import Keypair

from agents.services import api_key_create
from trading.ledger_services import balance_deposit
from trading.models import Balance, BalanceSnapshot, ClosedTrade, Position, Transaction
from trading.services import position_close
from trading.wallet_services import wallet_reset
from wallets.models import AgentWallet
from wallets.services import wallet_assign

pytestmark = pytest.mark.django_db
PASSWORD = "pw-12345678"  # the `user` fixture's


def _live_position(wallet) -> Position:
    # Live buys arrive with the live venue (#14 item 2); until then an open position in a live
    # wallet can only be written as a row.
    now = wallet.created_at
    return Position.objects.create(
        agent=wallet.agent,
        wallet=wallet,
        token_address=str(Keypair().pubkey()),
        token_decimals=6,
        purchase_price=Decimal("0.001"),
        total_invested_sol=Decimal("1"),
        total_tokens_bought=Decimal("1000"),
        remaining_amount=Decimal("1000"),
        peak_price=Decimal("0.001"),
        lowest_price=Decimal("0.001"),
        stop_loss_percent=Decimal("-32"),
        opened_at=now,
    )


@pytest.mark.parametrize("action", ["unassign", "reset"])
@pytest.mark.parametrize("body", [{}, {"confirm": False}, {"confirm": "no"}])
def test_unassign_and_reset_need_confirm_true(operator, agent, live_wallet, action, body):
    wallet_assign(wallet=live_wallet, agent=agent)
    answer = operator.post(f"/api/v1/wallets/{live_wallet.address}/{action}", body, format="json")
    assert answer.status_code == 400
    assert [d["field"] for d in answer.json()["details"]] == ["confirm"]
    live_wallet.refresh_from_db()
    assert live_wallet.agent_id == agent.pk


def test_unassign_takes_the_live_wallet_from_its_agent(operator, agent, live_wallet):
    wallet_assign(wallet=live_wallet, agent=agent)
    answer = operator.post(
        f"/api/v1/wallets/{live_wallet.address}/unassign", {"confirm": True}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["agent_id"] is None
    assert not agent.wallets.filter(mode="live").exists()
    assert AgentWallet.objects.filter(pk=live_wallet.pk).exists()


def test_unassign_is_refused_while_the_wallet_has_open_positions(operator, agent, live_wallet):
    _live_position(wallet_assign(wallet=live_wallet, agent=agent))
    answer = operator.post(
        f"/api/v1/wallets/{live_wallet.address}/unassign", {"confirm": True}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "open_positions"
    live_wallet.refresh_from_db()
    assert live_wallet.agent_id == agent.pk


def test_a_simulation_wallet_cannot_be_unassigned(operator, wallet):
    answer = operator.post(
        f"/api/v1/wallets/{wallet.address}/unassign", {"confirm": True}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "simulation_wallet"


def test_resetting_a_simulation_wallet_erases_its_ledger(
    operator, localnet, market, agent, funded_wallet
):
    from tests.trading.risk_support import open_position

    token = market.add_token(symbol="WIF", price_sol=Decimal("0.002"), decimals=6)
    closed = open_position(agent, funded_wallet, token)
    position_close(position_id=closed.pk, reason="manual")
    open_position(agent, funded_wallet, token)
    BalanceSnapshot.objects.create(
        wallet=funded_wallet,
        taken_at=funded_wallet.created_at,
        sol_balance=Decimal("1"),
        positions_value_sol=Decimal("0"),
        total_value_sol=Decimal("1"),
    )
    answer = operator.post(
        f"/api/v1/wallets/{funded_wallet.address}/reset", {"confirm": True}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    deleted = answer.json()["deleted"]
    assert deleted["positions"] == 2 and deleted["closed_trades"] == 1
    assert deleted["transactions"] == 4 and deleted["snapshots"] == 1
    for model in (Position, ClosedTrade, Transaction, Balance, BalanceSnapshot):
        assert not model.objects.filter(wallet=funded_wallet).exists()
    # It starts over: a deposit works as on a new wallet.
    balance_deposit(wallet=funded_wallet, amount=Decimal("2"))
    assert Balance.objects.get(wallet=funded_wallet).amount == Decimal("2")


def test_a_live_wallets_reset_is_refused_while_it_has_open_positions(operator, agent, live_wallet):
    position = _live_position(wallet_assign(wallet=live_wallet, agent=agent))
    answer = operator.post(
        f"/api/v1/wallets/{live_wallet.address}/reset", {"confirm": True}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "open_positions"
    assert Position.objects.filter(pk=position.pk).exists()


def test_a_live_wallets_reset_forgets_its_closed_history(agent, live_wallet):
    position = _live_position(wallet_assign(wallet=live_wallet, agent=agent))
    Position.objects.filter(pk=position.pk).update(status="closed", remaining_amount=0)
    counts = wallet_reset(wallet=live_wallet)
    assert counts.positions == 1
    assert not Position.objects.filter(wallet=live_wallet).exists()


def test_export_returns_the_key_once_the_password_is_given(operator, live_wallet, keypair):
    answer = operator.post(
        f"/api/v1/wallets/{live_wallet.address}/export", {"password": PASSWORD}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert answer["Cache-Control"] == "no-store"
    assert answer.json() == {"address": live_wallet.address, "secret_key": str(keypair)}


@pytest.mark.parametrize("body", [{"password": "wrong-password"}, {"password": ""}, {}])
def test_export_without_the_right_password_shows_nothing(operator, live_wallet, keypair, body):
    answer = operator.post(f"/api/v1/wallets/{live_wallet.address}/export", body, format="json")
    assert answer.status_code in (400, 403)
    if answer.status_code == 403:
        assert answer.json()["code"] == "wrong_password"
    assert str(keypair) not in answer.content.decode()


def test_export_refuses_api_keys_even_with_full_access(api_client, user, live_wallet, keypair):
    _, raw = api_key_create(owner=user, name="full", scopes=["full_access"])
    answer = api_client.post(
        f"/api/v1/wallets/{live_wallet.address}/export",
        {"password": PASSWORD},
        format="json",
        HTTP_X_API_KEY=raw,
    )
    assert answer.status_code == 403
    assert str(keypair) not in answer.content.decode()


def test_export_of_someone_elses_wallet_is_404(api_client, other_user, live_wallet):
    api_client.force_authenticate(other_user)
    answer = api_client.post(
        f"/api/v1/wallets/{live_wallet.address}/export", {"password": PASSWORD}, format="json"
    )
    assert answer.status_code == 404


def test_export_with_a_jwt_login(api_client, user, live_wallet, keypair):
    login = api_client.post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    token = login.json()["access"]
    answer = api_client.post(
        f"/api/v1/wallets/{live_wallet.address}/export",
        {"password": PASSWORD},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answer.status_code == 200
    assert answer.json()["secret_key"] == str(keypair)


def test_a_simulation_wallet_has_nothing_to_export(operator, wallet):
    answer = operator.post(
        f"/api/v1/wallets/{wallet.address}/export", {"password": PASSWORD}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "simulation_wallet"


def test_a_wrong_master_key_is_a_503_that_shows_no_key(operator, live_wallet, keypair, settings):
    settings.WALLET_MASTER_KEY = "a-different-master-key-" + "x" * 32
    answer = operator.post(
        f"/api/v1/wallets/{live_wallet.address}/export", {"password": PASSWORD}, format="json"
    )
    assert answer.status_code == 503
    assert answer.json()["code"] == "wrong_master_key"
    assert str(keypair) not in answer.content.decode()
