"""Wallet actions that touch the ledger: unassigning a live wallet and resetting a wallet.
They live above the wallets app because they read and erase ledger rows (docs/decisions.md,
"Wallets").

Both run in one transaction under the wallet's row lock, after locking the wallet's balance
rows and positions (SOL first, then by primary key, as every trade locks them), so a trade on
the wallet either finishes before or sees the result after."""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, When
from rest_framework import status

from agents.models import TradingMode
from nexgent import money, realtime
from nexgent.api import DomainError
from trading.models import (
    Balance,
    BalanceSnapshot,
    ClosedTrade,
    EquityPeak,
    Position,
    PositionStatus,
    Transaction,
)
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)


class WalletBusy(DomainError):
    status_code = status.HTTP_409_CONFLICT


@dataclass(frozen=True, slots=True)
class ResetCounts:
    positions: int
    closed_trades: int
    transactions: int
    balances: int
    snapshots: int


def wallet_unassign(*, wallet: AgentWallet) -> AgentWallet:
    """Take the live wallet from its agent; the key stays in the keystore and the ledger with
    the wallet. Refused while the wallet holds open positions: the agent manages them, and the
    next agent given the wallet must not inherit them. Unassigning an unassigned wallet
    changes nothing."""
    with transaction.atomic():
        wallet = _locked(wallet)
        if wallet.mode != TradingMode.LIVE:
            raise WalletBusy(
                "a simulation wallet belongs to its agent for good", code="simulation_wallet"
            )
        if wallet.agent_id is None:
            return wallet
        _refuse_open_positions(wallet, "unassigned")
        agent_id, wallet.agent = wallet.agent_id, None
        wallet.save(update_fields=["agent"])
    logger.info("live wallet %s unassigned from agent #%s", wallet.address, agent_id)
    return wallet


@realtime.batched()
def wallet_reset(*, wallet: AgentWallet) -> ResetCounts:
    """Start the wallet's ledger over: its positions, closed trades, ledger entries, balances,
    balance snapshots and equity peak are erased, and it holds nothing.

    A simulation wallet's open positions are virtual and go too. A live wallet's reset is
    refused while it has open positions (real tokens whose cost basis the ledger holds); the
    chain keeps the funds, which reconcile records again as deposits. The agent's risk pauses
    and signal decisions are the agent's and stay."""
    with transaction.atomic():
        wallet = _locked(wallet)
        if wallet.mode == TradingMode.LIVE:
            _refuse_open_positions(wallet, "reset")
        list(
            Balance.objects.select_for_update()
            .filter(wallet=wallet)
            .order_by(Case(When(token_address=money.WSOL_MINT, then=0), default=1), "pk")
        )
        list(Position.objects.select_for_update().filter(wallet=wallet).order_by("pk"))
        counts = ResetCounts(
            closed_trades=ClosedTrade.objects.filter(wallet=wallet).delete()[0],
            transactions=Transaction.objects.filter(wallet=wallet).delete()[0],
            positions=Position.objects.filter(wallet=wallet).delete()[0],
            balances=Balance.objects.filter(wallet=wallet).delete()[0],
            snapshots=BalanceSnapshot.objects.filter(wallet=wallet).delete()[0],
        )
        EquityPeak.objects.filter(wallet=wallet).delete()
        if wallet.agent_id is not None:
            realtime.balance_update(wallet.agent_id, [])
    logger.warning("%s wallet %s reset: %s", wallet.mode, wallet.address, counts)
    return counts


def _locked(wallet: AgentWallet) -> AgentWallet:
    return AgentWallet.objects.select_for_update().get(pk=wallet.pk)


def _refuse_open_positions(wallet: AgentWallet, action: str) -> None:
    open_count = Position.objects.filter(wallet=wallet, status=PositionStatus.OPEN).count()
    if open_count:
        raise WalletBusy(
            f"the wallet has {open_count} open position(s): close them before it is {action}",
            code="open_positions",
        )
