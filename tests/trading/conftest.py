"""Fixtures of the live venue's tests (test_live_venue.py, test_live_ultra.py): a live agent
whose keystore wallet holds SOL on localnet's real SVM, and a token with a pool there."""

from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from agents.services import agent_create
from tests.trading.live_support import DECIMALS, FUNDED_LAMPORTS, SLOT_SECONDS, WSOL
from trading.models import Balance
from wallets.services import wallet_assign, wallet_create_live


@pytest.fixture
def chain(market, localnet, settings):
    market.set_slot_time(SLOT_SECONDS)
    settings.LIVE_CONFIRM_POLL_SECONDS = Decimal("0.02")
    settings.LIVE_RESEND_SECONDS = Decimal("0.2")
    settings.LIVE_CONFIRM_TIMEOUT_SECONDS = Decimal("30")
    return market.chain


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="LIVE",
        price_sol=Decimal("0.001"),
        decimals=DECIMALS,
        liquidity_sol=Decimal("500"),
    )


@pytest.fixture
def live_agent(user):
    return agent_create(owner=user, name="Live", trading_mode="live", automated_trading_live=True)


@pytest.fixture
def live_wallet(chain, user, live_agent):
    """A keystore wallet holding 10 SOL on chain, and its ledger balance of the same 10 SOL
    (reconcile's deposit, made directly so each test counts only its own trades' entries)."""
    wallet = wallet_assign(wallet=wallet_create_live(owner=user), agent=live_agent)
    chain.fund(Pubkey.from_string(wallet.address), FUNDED_LAMPORTS)
    Balance.objects.create(
        wallet=wallet, token_address=WSOL, token_symbol="SOL", amount=Decimal(10)
    )
    return wallet
