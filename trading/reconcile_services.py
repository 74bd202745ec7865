"""Reconcile: a live wallet's balances on chain compared with its ledger (docs/decisions.md,
"Reconcile").

One run per wallet: the steps registered to run before the comparison (the live venue's
resolution of pending trades), then the chain read over RPC with no lock held, then, in one
transaction under the wallet's lock and its balance rows' locks, the ledger read, the
comparison, a DEPOSIT for SOL that arrived on chain, and the wallet's latest result
(wallets.models.WalletReconcile).

How a deposit is told from drift: SOL on chain beyond the ledger, while no registered step
reports a trade of the wallet it could not resolve, can only have come from outside the engine,
so it is recorded as a DEPOSIT, keyed by the observation (wallet, slot, lamports). Anything else
that differs is drift: less SOL on chain than in the ledger, any token amount that differs
either way, a surplus while trades are unresolved, a surplus in a wallet with no agent (a ledger
entry belongs to an agent). Drift is recorded in the result and surfaced (API, admin, metric,
`manage.py reconcile`), never written to the ledger: only a person can say what it was. What is
known is no drift: before comparing, the fee each failed live swap paid on chain is written as
a FEE entry (trading.ledger_services.live_swap_fees_record).

An RPC failure records nothing but the failure itself (the result's `error`; the balances shown
stay those of the last read that succeeded) and is raised to the caller.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, When
from rest_framework import status

from agents.models import TradingMode
from nexgent import money, realtime
from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from trading.ledger_services import balance_deposit_observed, live_swap_fees_record
from trading.models import Balance, Transaction
from wallets import rpc
from wallets.models import AgentWallet, WalletReconcile

logger = logging.getLogger(__name__)

SOL = money.WSOL_MINT

# A step run before every comparison, given the wallet: it settles what it can (the live venue
# registers the resolution of trades left pending by a crash between send and confirm) and
# returns True when the wallet still has a trade whose outcome is unknown. While one is, SOL
# on chain beyond the ledger may be that trade's proceeds, so it is reported as drift and not
# recorded as a deposit. A step may raise ExternalServiceError: the run then fails like an RPC
# read. Empty until the live venue appends its step, once, at app start (its AppConfig.ready).
BeforeCompare = Callable[[AgentWallet], bool]
BEFORE_COMPARE: list[BeforeCompare] = []


class NotALiveWallet(DomainError):
    status_code = status.HTTP_409_CONFLICT


@dataclass(frozen=True, slots=True)
class ReconcileOutcome:
    result: WalletReconcile
    deposit: Transaction | None  # the DEPOSIT this run recorded, if any


def wallet_reconcile(*, wallet: AgentWallet) -> ReconcileOutcome:
    """Reconcile one live wallet now. Raises ExternalServiceError (after recording it as the
    wallet's latest error) when the chain cannot be read."""
    if wallet.mode != TradingMode.LIVE:
        raise NotALiveWallet(
            "only a live wallet has a chain to reconcile", code="simulation_wallet"
        )
    try:
        unresolved = any([step(wallet) for step in BEFORE_COMPARE])
        live_swap_fees_record(wallet)  # failed swaps' fees, decided by the steps or earlier
        chain = rpc.wallet_balances(wallet.address)
    except ExternalServiceError as exc:
        _failure_record(wallet, str(exc))
        logger.warning("reconcile of %s failed: %s", wallet.address, exc)
        raise
    with realtime.batched():
        return _compare(wallet, chain, unresolved=unresolved)


def wallets_reconcile() -> list[WalletReconcile]:
    """Reconcile every live wallet, one after the other; one wallet's failure (recorded as its
    error) never stops the others."""
    results = []
    for wallet in AgentWallet.objects.filter(mode=TradingMode.LIVE).order_by("pk"):
        try:
            results.append(wallet_reconcile(wallet=wallet).result)
        except ExternalServiceError:
            results.append(WalletReconcile.objects.get(wallet=wallet))
    return results


@dataclass(frozen=True, slots=True)
class _Line:
    token_address: str
    on_chain: Decimal
    ledger: Decimal

    @property
    def drift(self) -> Decimal:
        return self.on_chain - self.ledger

    def payload(self) -> dict:
        return {
            "token_address": self.token_address,
            "on_chain": money.as_str(self.on_chain),
            "ledger": money.as_str(self.ledger),
            "drift": money.as_str(self.drift),
        }


def _compare(wallet: AgentWallet, chain: rpc.ChainBalances, *, unresolved: bool):
    now = datetime.now(UTC)
    with transaction.atomic():
        # The wallet's row first, then its balances (SOL first, then by primary key), as
        # wallet_reset locks them: a reset or unassign runs before or after, never between.
        wallet = AgentWallet.objects.select_for_update().get(pk=wallet.pk)
        result = WalletReconcile.objects.select_for_update().filter(wallet=wallet).first()
        if result is not None and result.slot is not None and chain.slot < result.slot:
            # A newer run has already compared a later picture of the chain; this one is stale.
            return ReconcileOutcome(result=result, deposit=None)
        ledger = _ledger_locked(wallet)
        sol_on_chain = money.lamports_to_sol(chain.lamports)
        surplus = sol_on_chain - ledger.get(SOL, Decimal(0))
        deposit = None
        if surplus > 0 and not unresolved and wallet.agent_id is not None:
            deposit = balance_deposit_observed(
                wallet=wallet,
                amount=surplus,
                key=f"deposit:{wallet.pk}:{chain.slot}:{chain.lamports}",
                now=now,
            )
            ledger[SOL] = ledger.get(SOL, Decimal(0)) + deposit.input_amount
        lines = [_Line(SOL, sol_on_chain, ledger.pop(SOL, Decimal(0)))]
        on_chain = {t.mint: Decimal(t.raw).scaleb(-t.decimals) for t in chain.tokens}
        for mint in sorted(on_chain.keys() | ledger.keys()):
            lines.append(_Line(mint, on_chain.get(mint, Decimal(0)), ledger.get(mint, Decimal(0))))
        result = result or WalletReconcile(wallet=wallet)
        result.checked_at = result.succeeded_at = now
        result.slot = chain.slot
        result.balances = [line.payload() for line in lines]
        result.has_drift = any(line.drift for line in lines)
        result.trade_in_flight = unresolved
        result.error = ""
        result.save()
    if deposit is not None:
        logger.info("deposit of %s SOL found on chain in %s", deposit.input_amount, wallet.address)
    if result.has_drift and unresolved:
        # Expected while a trade is in flight (sent, or landed and not recorded yet): the next
        # run, after the trade is recorded, tells whether it is more than that.
        logger.info(
            "live wallet %s differs from its ledger while a trade is in flight", wallet.address
        )
    elif result.has_drift:
        logger.warning("live wallet %s drifts from its ledger: %s", wallet.address, result.balances)
    return ReconcileOutcome(result=result, deposit=deposit)


def _ledger_locked(wallet: AgentWallet) -> dict[str, Decimal]:
    rows = (
        Balance.objects.select_for_update()
        .filter(wallet=wallet)
        .order_by(Case(When(token_address=SOL, then=0), default=1), "pk")
    )
    return {row.token_address: row.amount for row in rows}


def _failure_record(wallet: AgentWallet, error: str) -> None:
    WalletReconcile.objects.update_or_create(
        wallet=wallet, defaults={"checked_at": datetime.now(UTC), "error": error}
    )
