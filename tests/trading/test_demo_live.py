"""`make demo` trades live too: the demo's live agent gets a keystore wallet funded by an
airdrop on localnet's chain (recorded by reconcile as a deposit), the demo driver's first
signal makes it buy on chain, and the chain equals the ledger. A second start begins from an
empty demo database, as its chain begins empty: nothing of the first is left to write off."""

import time
from decimal import Decimal

import pytest
from django.core.management.base import CommandError
from solders.pubkey import Pubkey

from agents.models import Agent, ApiKey, User
from localnet.demo import DemoDriver
from nexgent import money
from signals_app.management.commands.serve import (
    DEMO_LIVE_AIRDROP_LAMPORTS,
    demo_prepare,
)
from signals_app.models import SignalExecution
from trading.models import (
    Balance,
    LiveSwap,
    LiveSwapStatus,
    Transaction,
    TransactionType,
)
from wallets.models import AgentWallet, WalletReconcile

pytestmark = pytest.mark.django_db(transaction=True)

SOL = money.WSOL_MINT
BUY_TIMEOUT_SECONDS = 30


@pytest.fixture
def airdrop(market):
    def _airdrop(address: str, lamports: int):
        return market.chain.fund(Pubkey.from_string(address), lamports)

    return _airdrop


@pytest.fixture(autouse=True)
def demo_database(settings):
    # The test database stands for the demo's own (NEXGENT_DEMO=1), which demo_prepare empties.
    settings.DEMO = True


def _ledger(wallet, mint) -> Decimal:
    row = Balance.objects.filter(wallet=wallet, token_address=mint).first()
    return row.amount if row else Decimal(0)


def _chain_tokens(chain, wallet, mint) -> Decimal:
    accounts = chain.token_accounts(
        Pubkey.from_string(wallet.address), mint=Pubkey.from_string(mint)
    )
    decimals = chain.mint_decimals(Pubkey.from_string(mint))
    return money.raw_to_ui(sum(parsed.amount for _, _, parsed in accounts), decimals)


def _wait_for_live_buy(wallet) -> Transaction:
    deadline = time.monotonic() + BUY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        entry = Transaction.objects.filter(wallet=wallet, type=TransactionType.SWAP).first()
        if entry is not None:
            return entry
        time.sleep(0.1)
    raise AssertionError(f"no live buy within {BUY_TIMEOUT_SECONDS} s")


def test_the_demo_funds_a_live_wallet_through_reconcile(market, localnet, airdrop):
    prepared = demo_prepare(airdrop=airdrop)

    wallet = prepared.live_wallet
    assert prepared.live_agent.trading_mode == "live"
    assert wallet.mode == "live" and wallet.encrypted_secret  # a keystore wallet
    assert wallet.agent_id == prepared.live_agent.pk
    (deposit,) = Transaction.objects.filter(wallet=wallet)
    assert deposit.type == TransactionType.DEPOSIT
    assert deposit.idempotency_key.startswith(f"deposit:{wallet.pk}:")
    amount = money.lamports_to_sol(DEMO_LIVE_AIRDROP_LAMPORTS)
    assert deposit.input_amount == _ledger(wallet, SOL) == amount
    assert WalletReconcile.objects.get(wallet=wallet).has_drift is False


def test_a_demo_signal_makes_the_live_agent_buy_on_chain(market, live_engine, airdrop):
    prepared = demo_prepare(airdrop=airdrop)
    wallet, chain = prepared.live_wallet, market.chain
    driver = DemoDriver(market, engine_url=f"http://{live_engine}", api_key=prepared.api_key)
    driver.start()
    try:
        entry = _wait_for_live_buy(wallet)
    finally:
        driver.stop()

    swap = LiveSwap.objects.get(signature=entry.tx_signature)
    assert swap.status == LiveSwapStatus.LANDED and swap.side == "buy"
    token = entry.output_mint
    assert chain.balance(Pubkey.from_string(wallet.address)) > 0
    # The same signal went to both demo agents.
    executions = SignalExecution.objects.filter(signal__token_address=token)
    assert {e.agent_id: e.status for e in executions} == {
        prepared.agent.pk: "executed",
        prepared.live_agent.pk: "executed",
    }
    assert _ledger(wallet, SOL) == money.lamports_to_sol(
        chain.balance(Pubkey.from_string(wallet.address))
    )
    assert _ledger(wallet, token) == _chain_tokens(chain, wallet, token) > 0


def test_a_restart_begins_from_an_empty_demo_database(market, localnet, airdrop, client):
    first = demo_prepare(airdrop=airdrop)

    again = demo_prepare(airdrop=airdrop)

    assert list(Agent.objects.order_by("pk")) == [again.agent, again.live_agent]
    # Ids start again from 1 (the sequences are reset): the first start's wallet is gone by address.
    assert not AgentWallet.objects.filter(address=first.live_wallet.address).exists()
    # This start's two deposits (simulation funds, the live airdrop) and its one API key.
    assert {t.wallet_id for t in Transaction.objects.all()} == {
        again.agent.wallets.get(mode="simulation").pk,
        again.live_wallet.pk,
    }
    assert ApiKey.objects.count() == 1
    assert User.objects.get().email == "demo@nexgent.local"
    assert again.operator_password != first.operator_password
    assert client.login(username="demo@nexgent.local", password=again.operator_password)
    assert _ledger(again.live_wallet, SOL) == money.lamports_to_sol(DEMO_LIVE_AIRDROP_LAMPORTS)


def test_the_demo_refuses_the_real_database(settings, localnet, airdrop, user):
    settings.DEMO = False

    with pytest.raises(CommandError, match="NEXGENT_DEMO"):
        demo_prepare(airdrop=airdrop)

    assert User.objects.filter(pk=user.pk).exists()
