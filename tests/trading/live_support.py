"""What the live venue's tests compare: the ledger against the wallet's real on-chain SOL and
token balances on localnet's SVM."""

from decimal import Decimal

from solders.pubkey import Pubkey

from nexgent import money
from trading.models import Balance, Position, Transaction
from trading.services import position_buy

WSOL = "So11111111111111111111111111111111111111112"
FUNDED_LAMPORTS = 10 * 10**9
DECIMALS = 6
# Fast slots keep the real confirmation flow (land at the next slot, confirmed one later,
# expiry 150 blocks on) within a test's patience.
SLOT_SECONDS = 0.02


def ledger(wallet, mint) -> Decimal:
    row = Balance.objects.filter(wallet=wallet, token_address=mint).first()
    return row.amount if row else Decimal(0)


def chain_sol(chain, wallet) -> Decimal:
    return money.lamports_to_sol(chain.balance(Pubkey.from_string(wallet.address)))


def chain_tokens(chain, wallet, mint) -> Decimal:
    accounts = chain.token_accounts(
        Pubkey.from_string(wallet.address), mint=Pubkey.from_string(mint)
    )
    return money.raw_to_ui(sum(parsed.amount for _, _, parsed in accounts), DECIMALS)


def assert_chain_equals_ledger(chain, wallet, mint):
    assert ledger(wallet, WSOL) == chain_sol(chain, wallet)
    assert ledger(wallet, mint) == chain_tokens(chain, wallet, mint)


def buy(agent, wallet, token, *, key="buy:manual:1"):
    return position_buy(
        agent=agent,
        wallet=wallet,
        token_address=token,
        token_symbol="LIVE",
        sol_amount=Decimal("0.5"),
        decimals=DECIMALS,
        idempotency_key=key,
    )


def untouched(chain, wallet, token, *, sol_lamports=FUNDED_LAMPORTS):
    """Nothing of the trade in the ledger: 10 SOL, no tokens, no position, no entry."""
    assert ledger(wallet, WSOL) == Decimal(10)
    assert ledger(wallet, token) == 0
    assert not Position.objects.filter(wallet=wallet).exists()
    assert not Transaction.objects.filter(wallet=wallet).exists()
    assert chain_tokens(chain, wallet, token) == 0
    assert chain.balance(Pubkey.from_string(wallet.address)) == sol_lamports
