"""`make demo` trades live too: the demo's live agent gets a keystore wallet funded by an
airdrop on localnet's chain (recorded by reconcile as a deposit), the demo driver's first
signal makes it buy on chain, and the chain equals the ledger. A second start reuses the agents
and gives the live agent a fresh wallet, retiring the one whose chain is gone."""

import io
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from solders.pubkey import Pubkey

from localnet.demo import DemoDriver
from nexgent import money
from signals_app.models import SignalExecution
from trading.management.commands.serve import (
    DEMO_LIVE_AIRDROP_LAMPORTS,
    demo_prepare,
)
from trading.models import (
    Balance,
    LiveSwap,
    LiveSwapStatus,
    Position,
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


@pytest.fixture
def demo_operator():
    call_command("ensure_demo_operator", stdout=io.StringIO())


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


def test_the_demo_funds_a_live_wallet_through_reconcile(market, localnet, demo_operator, airdrop):
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


def test_a_demo_signal_makes_the_live_agent_buy_on_chain_and_a_restart_renews_its_wallet(
    market, live_engine, demo_operator, airdrop
):
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

    # A restart: the chain of a new start is empty, so the wallet is renewed.
    again = demo_prepare(airdrop=airdrop)

    assert (again.agent.pk, again.live_agent.pk) == (prepared.agent.pk, prepared.live_agent.pk)
    assert again.live_wallet.pk != wallet.pk
    retired = AgentWallet.objects.get(pk=wallet.pk)
    assert retired.agent_id is None and retired.encrypted_secret  # its key kept
    assert not Transaction.objects.filter(wallet=retired).exists()
    assert not Position.objects.filter(wallet=retired).exists()
    assert _ledger(again.live_wallet, SOL) == money.lamports_to_sol(DEMO_LIVE_AIRDROP_LAMPORTS)
