"""The ledger's own writes: one entry and the balance changes it stands for (`ledger_write`,
the one way anything reaches the ledger), and the entries that move SOL without a trade:
simulated deposits and withdrawals, deposits reconcile observed on chain, and the fees failed
live swaps paid. trading.services writes the trades through `ledger_write`.

A balance never goes below zero: a change that would take it there refuses the whole entry
(TradeRefused) before anything is written. Every entry carries an idempotency key naming what
it records, unique in the ledger.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Case, When
from rest_framework import status

from nexgent import money, realtime
from nexgent.api import DomainError
from trading.models import Balance, LiveSwap, LiveSwapStatus, Position, Transaction, TransactionType
from trading.selectors import balance_payload
from trading.venues import Fill
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)


class TradeRefused(DomainError):
    status_code = status.HTTP_409_CONFLICT


def _now() -> datetime:
    return datetime.now(UTC)


# --- The ledger ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a ledger entry: so much of a token (SOL under the wSOL mint)."""

    mint: str
    symbol: str
    amount: Decimal


SOL = money.WSOL_MINT

# How each kind of entry moves its legs: the input leg in (+1) or out (-1), the output leg in.
_INPUT_SIGN = {
    TransactionType.DEPOSIT: 1,
    TransactionType.WITHDRAWAL: -1,
    TransactionType.SWAP: -1,
    TransactionType.BURN: -1,
    TransactionType.FEE: -1,
}


def ledger_write(
    *,
    wallet: AgentWallet,
    kind: TransactionType,
    spent: Leg,
    received: Leg | None = None,
    position: Position | None = None,
    fill: Fill | None = None,
    now: datetime,
    **entry,
) -> Transaction:
    """Write one ledger entry and the balance changes it stands for, inside the caller's
    transaction: the one way anything reaches the ledger. A balance that would go below zero
    refuses the whole trade (TradeRefused) before anything is written. `entry`: the entry's
    other fields (P/L figures, flags, SOL/USD, idempotency key)."""
    legs = [(spent, _INPUT_SIGN[kind])] + ([(received, 1)] if received is not None else [])
    balances = _lock_balances(wallet, [leg.mint for leg, _ in legs])
    for leg, sign in legs:
        _apply(balances[leg.mint], sign * leg.amount, symbol=leg.symbol)
    _balances_save(list(balances.values()))
    realtime.balance_update(wallet.agent_id, [balance_payload(b) for b in balances.values()])
    if position is not None and position.pk is None:
        position.save(force_insert=True)  # a buy's new position, once the balances allow it
    if fill is not None:
        entry.update(
            price=fill.price,
            protocol_fee_sol=fill.protocol_fee_sol,
            network_fee_sol=fill.network_fee_sol,
            tx_signature=fill.tx_signature,
        )
        if fill.tx_signature:
            # A live trade: the chain is compared with the ledger right after it commits, as
            # well as on reconcile's schedule.
            transaction.on_commit(lambda: reconcile_soon(wallet.pk))
    return Transaction.objects.create(
        agent_id=wallet.agent_id,
        wallet=wallet,
        position=position,
        type=kind,
        input_mint=spent.mint,
        input_symbol=spent.symbol,
        input_amount=spent.amount,
        output_mint=received.mint if received else "",
        output_symbol=received.symbol if received else "",
        output_amount=received.amount if received else None,
        created_at=now,
        **entry,
    )


def _lock_balances(wallet: AgentWallet, mints: list[str]) -> dict[str, Balance]:
    """The wallet's balance rows of these mints, locked in one order for every trade so two
    trades on the same wallet can never deadlock: SOL first, then by primary key. A mint the
    wallet has no row for yet comes back as a new, unsaved row at zero, written by
    `_balances_save` (a trade that credits a token for the first time: one statement, not an
    insert and a second locking read)."""
    rows = (
        Balance.objects.select_for_update()
        .filter(wallet=wallet, token_address__in=mints)
        .order_by(Case(When(token_address=SOL, then=0), default=1), "pk")
    )
    balances = {row.token_address: row for row in rows}
    for mint in mints:
        balances.setdefault(mint, Balance(wallet=wallet, token_address=mint))
    return balances


def _apply(balance: Balance, delta: Decimal, *, symbol: str) -> None:
    """Add `delta` to the balance, refusing to take it below zero; record the token's symbol on
    a row that has none yet."""
    new_amount = balance.amount + delta
    if new_amount < 0:
        if balance.token_address == SOL:
            code = "insufficient_balance"
        else:
            code = "insufficient_tokens" if delta < 0 else "invalid_fill"
        raise TradeRefused(
            f"{balance.token_symbol or balance.token_address} balance {money.as_str(balance.amount)}"
            f" cannot cover {money.as_str(-delta)}",
            code=code,
        )
    balance.amount = new_amount
    if symbol and not balance.token_symbol:
        balance.token_symbol = symbol


def _balances_save(balances: list[Balance]) -> None:
    """Write the changed rows: an update each (one statement per row is cheaper than
    bulk_update's CASE expression for one or two rows), the new ones in one insert. A new
    row that a concurrent trade inserted first raises IntegrityError: that trade's caller
    refuses or retries it, nothing of it written."""
    new = [balance for balance in balances if balance.pk is None]
    for balance in balances:
        if balance.pk is not None:
            balance.save(update_fields=["amount", "token_symbol", "updated_at"])
    if new:
        Balance.objects.bulk_create(new)


# --- Deposits and withdrawals of simulation funds -----------------------------------------------


def balance_deposit(*, wallet: AgentWallet, amount: Decimal) -> Transaction:
    return balance_transfer(wallet=wallet, kind=TransactionType.DEPOSIT, amount=amount)[0]


def balance_withdraw(*, wallet: AgentWallet, amount: Decimal) -> Transaction:
    return balance_transfer(wallet=wallet, kind=TransactionType.WITHDRAWAL, amount=amount)[0]


# The longest client idempotency key a transfer takes: with its prefix and the wallet's id it
# must fit the ledger's idempotency_key column (100).
TRANSFER_KEY_MAX_LENGTH = 64


@realtime.batched()
def balance_transfer(
    *,
    wallet: AgentWallet,
    kind: TransactionType,
    amount: Decimal,
    idempotency_key: str | None = None,
) -> tuple[Transaction, bool]:
    """Deposit or withdraw simulated SOL. Returns (the ledger entry, whether this call wrote it).

    With an `idempotency_key` (the client's Idempotency-Key), a repeat of the same transfer on
    the same wallet returns the entry the first one wrote and writes nothing; the same key for
    a different transfer is refused (409 idempotency_key_reused).
    """
    amount = money.amount(amount)
    if amount <= 0:
        raise DomainError("amount must be greater than 0", code="invalid_amount")
    if wallet.mode != "simulation":
        raise DomainError("only simulation wallets take virtual deposits", code="live_wallet")
    key = f"transfer:{wallet.pk}:{idempotency_key}" if idempotency_key else None
    try:
        return _transfer_once(wallet, amount, kind, key)
    except IntegrityError:
        # A concurrent call got there first: it created this new wallet's SOL row (its first
        # deposits, at the same moment), or wrote this key's entry. This call wrote nothing;
        # now it finds what the other wrote.
        return _transfer_once(wallet, amount, kind, key)


def _transfer_once(wallet, amount: Decimal, kind: TransactionType, key: str | None):
    with transaction.atomic():
        earlier = Transaction.objects.filter(idempotency_key=key).first() if key else None
        if earlier is not None:
            if (earlier.type, earlier.input_amount) != (kind, amount):
                raise TradeRefused(
                    "this Idempotency-Key was used for a different transfer",
                    code="idempotency_key_reused",
                )
            return earlier, False
        entry = ledger_write(
            wallet=wallet,
            kind=kind,
            spent=Leg(SOL, "SOL", amount),
            now=_now(),
            idempotency_key=key,
        )
        return entry, True


def balance_deposit_observed(
    *, wallet: AgentWallet, amount: Decimal, key: str, now: datetime
) -> Transaction:
    """Record SOL that arrived in a live wallet on chain as a DEPOSIT, inside the caller's
    transaction: reconcile (trading.reconcile_services) holds the wallet's balance rows locked
    while it compares and calls this. `key` names the observation (wallet, slot, lamports), so
    the same observation can never be recorded twice."""
    return ledger_write(
        wallet=wallet,
        kind=TransactionType.DEPOSIT,
        spent=Leg(SOL, "SOL", money.amount(amount)),
        now=now,
        idempotency_key=key,
    )


def live_swap_fees_record(wallet: AgentWallet) -> list[Transaction]:
    """A FEE entry for each of the wallet's live swaps that landed and failed (slippage, an
    instruction error): such a swap moved nothing but the fee it paid, and that SOL left the
    wallet. Once per swap (keyed `fee:{signature}`; a racing run's entry wins). A wallet
    without an agent waits until it has one (every entry belongs to an agent); a fee the
    ledger's SOL cannot cover is not written, and reconcile shows it as drift."""
    if wallet.agent_id is None:
        return []
    recorded = Transaction.objects.filter(wallet=wallet, type=TransactionType.FEE)
    failed = LiveSwap.objects.filter(
        wallet=wallet, status=LiveSwapStatus.FAILED, sol_delta_lamports__lt=0
    ).exclude(signature__in=recorded.values("tx_signature"))
    entries = []
    for swap in failed.order_by("id"):
        paid = money.lamports_to_sol(-swap.sol_delta_lamports)
        try:
            with transaction.atomic():
                entries.append(
                    ledger_write(
                        wallet=wallet,
                        kind=TransactionType.FEE,
                        spent=Leg(SOL, "SOL", paid),
                        now=_now(),
                        network_fee_sol=paid,
                        tx_signature=swap.signature,
                        idempotency_key=f"fee:{swap.signature}",
                    )
                )
        except IntegrityError:
            continue  # another run recorded it first
        except TradeRefused as refused:
            logger.warning("fee of failed swap %s not recorded: %s", swap.signature, refused)
    return entries


def reconcile_soon(wallet_id: int) -> None:
    # The task by its registered name: trading.tasks imports this module, so importing it here
    # would be a cycle. A failure to queue never undoes the committed trade.
    from nexgent.celery import app

    try:
        # Every app's tasks registered, as a worker does at start: a web process may not have
        # imported trading.tasks yet (a repeat call finds the modules imported already).
        app.loader.import_default_modules()
        app.tasks["trading.tasks.wallet_reconcile"].delay(wallet_id)
    except Exception:
        logger.exception("could not queue the reconcile of wallet %s after its trade", wallet_id)
