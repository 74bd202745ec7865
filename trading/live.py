"""Live swaps on Solana through Jupiter Metis (route a; external-apis.md sections 1.3 and 4.5).
Route (b), Jupiter Ultra (trading.live_ultra), records, confirms and resolves with the steps
here.

quote (the venue's) -> POST /swap with the quote unchanged -> the unsigned VersionedTransaction
signed with the wallet's key (the pool's signatures kept) -> a LiveSwap row with the signature,
committed BEFORE anything is sent -> sendTransaction -> getSignatureStatuses polled, the same
bytes sent again every LIVE_RESEND_SECONDS, until it is confirmed or the blockhash's
lastValidBlockHeight has passed -> getTransaction: the wallet's real SOL and token deltas.

The recorded signature makes the chain side idempotent: a swap is never built again for a
wallet and token while one is pending (a partial unique constraint), and an action that runs
again finds the swap it already sent (`live_swap_settle`). `live_swap_resolve` decides a
pending swap from the chain alone; the periodic reconcile calls it too (docs/decisions.md
"Live swaps"). No row lock is held across an HTTP call: rows change by conditional UPDATEs.
"""

import base64
import binascii
import logging
import time
from datetime import UTC, datetime
from typing import NoReturn

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from rest_framework import status
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from nexgent.api import DomainError
from nexgent.http import ExternalServiceError
from prices import clients
from trading.models import LiveSwap, LiveSwapStatus, Transaction
from wallets import rpc
from wallets.models import AgentWallet
from wallets.services import wallet_keypair

logger = logging.getLogger(__name__)

SLIPPAGE_EXCEEDED = 6001  # Jupiter's SlippageToleranceExceeded (0x1771)
JUPITER_INSUFFICIENT_FUNDS = 6024
SPL_INSUFFICIENT_FUNDS = 1  # SPL Token's, and the System program's negative-lamports error
PREFLIGHT_FAILURE = -32002
RATE_LIMITED = 429
# getTransaction may lag the status by a moment on a real cluster (JUP-NODE retries 5 times).
TRANSACTION_READS = 5
_CONFIRMED = ("confirmed", "finalized")


class SwapFailed(DomainError):
    """The live swap did not happen (or its outcome is not known yet): `code` is the reason.
    Nothing of the trade is written; the swap row keeps the reason."""

    status_code = status.HTTP_409_CONFLICT


def _now() -> datetime:
    return datetime.now(UTC)


# --- The steps ------------------------------------------------------------------------------------


def live_swap_execute(
    *,
    wallet: AgentWallet,
    action: str,
    side: str,
    mint: str,
    decimals: int,
    quote: dict,
    shadow: dict | None = None,
) -> LiveSwap:
    """The landed swap for `action`: the one already sent for it if there is one (a retry, or
    the first attempt after a crash), else a new one sent now and confirmed. Raises SwapFailed
    with the reason when the swap does not land, or when its outcome is not known yet.
    `shadow` is the paper fill of the same quote, recorded on the swap's row."""
    earlier = live_swap_settle(wallet=wallet, mint=mint, action=action)
    if earlier is not None:
        return earlier
    return live_swap_confirm(
        live_swap_send(
            wallet=wallet,
            action=action,
            side=side,
            mint=mint,
            decimals=decimals,
            quote=quote,
            shadow=shadow,
        )
    )


def live_swap_settle(*, wallet: AgentWallet, mint: str, action: str) -> LiveSwap | None:
    """Before a new swap of this wallet and token: every pending one is decided from the chain
    first. This action's own (sent by an attempt that died before confirming) is waited for as
    the first attempt would have; another action's is resolved once. Returns the swap `action`
    already landed and whose ledger entry is not written yet (its amounts are what the action
    records); None when the action may send a new swap. Raises SwapFailed `swap_in_flight`
    while another action's swap can still land, `swap_unconfirmed` when the chain cannot tell,
    and `action_already_executed` when this action's swap is already in the ledger."""
    # One read: the pending swaps of this wallet and token, and this action's landed one.
    rows = LiveSwap.objects.filter(wallet=wallet, mint=mint).filter(
        Q(status=LiveSwapStatus.PENDING) | Q(action_key=action, status=LiveSwapStatus.LANDED)
    )
    landed = None
    for swap in rows:
        if swap.status == LiveSwapStatus.LANDED:
            landed = landed or swap  # the newest first
        elif swap.action_key == action:
            try:
                landed = live_swap_confirm(swap)
            except SwapFailed as exc:
                if exc.code == "swap_unconfirmed":
                    raise
                # Failed or expired: the action is free to swap again.
        elif live_swap_resolve(swap).status == LiveSwapStatus.PENDING:
            raise SwapFailed(f"swap {swap.signature} is still in flight", code="swap_in_flight")
    if landed is None:
        return None
    if Transaction.objects.filter(tx_signature=landed.signature).exists():
        raise SwapFailed(
            f"{action} already executed in {landed.signature}", code="action_already_executed"
        )
    return landed


def live_swap_send(
    *,
    wallet: AgentWallet,
    action: str,
    side: str,
    mint: str,
    decimals: int,
    quote: dict,
    shadow: dict | None = None,
) -> LiveSwap:
    """Build, sign, record and send one swap; the row stays pending (confirmation is the next
    step). A swap the RPC refused for sure (preflight failure, 429) is failed here; any other
    send error leaves it pending, since the transaction may have reached the cluster."""
    built = clients.jupiter_swap(quote=quote, user_public_key=wallet.address)
    if built.get("simulationError"):
        raise SwapFailed(
            f"Jupiter could not simulate the swap: {built['simulationError']}",
            code="swap_simulation_failed",
        )
    swap = live_swap_record(
        wallet=wallet,
        action=action,
        side=side,
        mint=mint,
        decimals=decimals,
        quoted_in_raw=int(quote["inAmount"]),
        quoted_out_raw=int(quote["outAmount"]),
        signed=swap_sign(built["swapTransaction"], wallet),
        last_valid_block_height=int(built["lastValidBlockHeight"]),
        shadow=shadow,
    )
    logger.info("live %s %s: sending %s (%s)", side, mint, swap.signature, action)
    try:
        _send(swap, preflight=True)
    except ExternalServiceError as exc:
        refused = send_refusal(exc)
        if refused is None:
            logger.warning("live swap %s: send not acknowledged: %s", swap.signature, exc)
        else:
            live_swap_refuse(swap, *refused)
    return swap


def live_swap_record(
    *,
    wallet: AgentWallet,
    action: str,
    side: str,
    mint: str,
    decimals: int,
    quoted_in_raw: int,
    quoted_out_raw: int,
    signed: VersionedTransaction,
    last_valid_block_height: int,
    shadow: dict | None = None,
) -> LiveSwap:
    """The pending row of a signed swap, committed before anything sends it, with the paper
    fill of its quote (`shadow`) if the venue made one. SwapFailed `swap_in_flight` when
    another swap of this wallet and token is pending."""
    try:
        with transaction.atomic():
            return LiveSwap.objects.create(
                wallet=wallet,
                action_key=action,
                side=side,
                mint=mint,
                decimals=decimals,
                quoted_in_raw=quoted_in_raw,
                signature=str(signed.signatures[0]),
                signed_transaction=bytes(signed),
                last_valid_block_height=last_valid_block_height,
                created_at=_now(),
                quoted_out_raw=quoted_out_raw,
                **(shadow or {}),
            )
    except IntegrityError:
        raise SwapFailed(
            f"another swap of {mint} is in flight for this wallet", code="swap_in_flight"
        ) from None


def live_swap_refuse(swap: LiveSwap, reason: str, text: str) -> NoReturn:
    """A pending swap that was refused before it could reach the chain: failed, for good."""
    _fail(swap, reason, text)
    raise SwapFailed(f"swap refused: {text}", code=reason) from None


def live_swap_confirm(swap: LiveSwap) -> LiveSwap:
    """Wait for the chain to decide a sent swap, sending it again as it goes. The landed swap,
    or SwapFailed: with the reason when it failed or expired; `swap_unconfirmed` (the row still
    pending) when the RPC could not tell within LIVE_CONFIRM_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + float(settings.LIVE_CONFIRM_TIMEOUT_SECONDS)
    sent_at = time.monotonic()
    while True:
        try:
            decided = _decide(swap)
        except ExternalServiceError as exc:
            logger.warning("live swap %s: confirmation read failed: %s", swap.signature, exc)
            decided = None
        if decided is not None:
            return _outcome(decided)
        if time.monotonic() >= deadline:
            raise SwapFailed(
                f"swap {swap.signature} not confirmed in time; it stays pending",
                code="swap_unconfirmed",
            )
        if time.monotonic() - sent_at >= float(settings.LIVE_RESEND_SECONDS):
            _resend(swap)
            sent_at = time.monotonic()
        time.sleep(float(settings.LIVE_CONFIRM_POLL_SECONDS))


def live_swap_resolve(swap: LiveSwap) -> LiveSwap:
    """A pending swap decided from the chain, once: landed (its amounts read back from
    getTransaction) or failed (it failed on chain, or its blockhash expired without it
    landing). One that can still land is sent again and stays pending. A swap already decided
    is returned as it is. Raises ExternalServiceError when the RPC cannot answer."""
    if swap.status != LiveSwapStatus.PENDING:
        return swap
    decided = _decide(swap)
    if decided is not None:
        return decided
    _resend(swap)
    return swap


def live_swaps_unresolved(wallet: AgentWallet) -> bool:
    """Reconcile's before-compare step (trading.reconcile_services.BEFORE_COMPARE): decide the
    wallet's pending swaps from the chain, then say whether any trade's outcome is still not in
    the ledger: a swap still pending, or one that landed and has no ledger entry yet (its
    action records it on its next attempt). While so, SOL the chain holds beyond the ledger is
    drift, never a deposit."""
    for swap in LiveSwap.objects.filter(wallet=wallet, status=LiveSwapStatus.PENDING):
        live_swap_resolve(swap)
    if LiveSwap.objects.filter(wallet=wallet, status=LiveSwapStatus.PENDING).exists():
        return True
    recorded = Transaction.objects.filter(wallet=wallet).values("tx_signature")
    return (
        LiveSwap.objects.filter(wallet=wallet, status=LiveSwapStatus.LANDED)
        .exclude(signature__in=recorded)
        .exists()
    )


# --- Inside the steps -----------------------------------------------------------------------------


def swap_sign(
    encoded: str, wallet: AgentWallet, *, service: str = "jupiter_swap"
) -> VersionedTransaction:
    """Jupiter's transaction with the wallet's signature in the fee payer's slot; the other
    slots (a pool's, signed by Jupiter's side) are kept as they came."""
    try:
        unsigned = VersionedTransaction.from_bytes(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise ExternalServiceError(service, f"unreadable swap transaction: {exc}") from None
    payer = unsigned.message.account_keys[0]
    if payer != Pubkey.from_string(wallet.address):
        raise ExternalServiceError(service, f"the swap's fee payer is {payer}, not ours")
    keypair = wallet_keypair(wallet)
    signature = keypair.sign_message(to_bytes_versioned(unsigned.message))
    return VersionedTransaction.populate(unsigned.message, [signature, *unsigned.signatures[1:]])


def _send(swap: LiveSwap, *, preflight: bool) -> None:
    """One sendTransaction of the signed bytes. The first send has preflight on, so a swap the
    cluster would refuse fails at once with its reason; the re-sends skip it (a landed swap's
    preflight answers AlreadyProcessed). maxRetries 0: re-sending is ours."""
    rpc.call(
        "sendTransaction",
        [
            base64.b64encode(bytes(swap.signed_transaction)).decode(),
            {
                "encoding": "base64",
                "skipPreflight": not preflight,
                "preflightCommitment": "confirmed",
                "maxRetries": 0,
            },
        ],
        read=str,
    )


def _resend(swap: LiveSwap) -> None:
    try:
        _send(swap, preflight=False)
    except ExternalServiceError as exc:
        # The next poll decides: a re-send that failed changes nothing on chain.
        logger.info("live swap %s: re-send failed: %s", swap.signature, exc)


def _decide(swap: LiveSwap) -> LiveSwap | None:
    """The swap decided if the chain has decided it, else None. The status is read first, so
    the poll that sees a swap confirmed makes one call. A swap not seen is expired only when a
    status read after a block height past its last valid one still does not see it: with the
    height read first, nothing can land unseen between the two reads."""
    found = _status(swap)
    if found is None:
        height = rpc.call("getBlockHeight", [{"commitment": "confirmed"}], read=int)
        if height <= swap.last_valid_block_height:
            return None
        found = _status(swap)
        if found is None:
            return _fail(swap, "blockhash_expired", f"not landed by block height {height}")
    if found.get("confirmationStatus") in _CONFIRMED:
        return _landed(swap, found)
    return None


def _status(swap: LiveSwap) -> dict | None:
    return rpc.call(
        "getSignatureStatuses",
        [[swap.signature], {"searchTransactionHistory": True}],
        read=lambda result: result["value"][0],
    )


def _landed(swap: LiveSwap, found: dict) -> LiveSwap:
    """A confirmed swap: its wallet's deltas read from getTransaction, failed or not (a swap
    that failed on chain still paid its fee)."""
    meta = _transaction_meta(swap)
    keys = _account_keys(meta)
    payer = keys.index(swap.wallet.address)
    deltas = {
        "sol_delta_lamports": int(meta["meta"]["postBalances"][payer])
        - int(meta["meta"]["preBalances"][payer]),
        "token_delta_raw": _token_raw(meta["meta"]["postTokenBalances"], swap)
        - _token_raw(meta["meta"]["preTokenBalances"], swap),
        "fee_lamports": int(meta["meta"]["fee"]),
    }
    err = found.get("err")
    if err is not None:
        reason, text = _reason(err)
        return _fail(swap, reason, text, **deltas)
    return _resolved(swap, status=LiveSwapStatus.LANDED, **deltas)


def _transaction_meta(swap: LiveSwap) -> dict:
    for attempt in range(TRANSACTION_READS):
        answer = rpc.call(
            "getTransaction",
            [
                swap.signature,
                {
                    "commitment": "confirmed",
                    "maxSupportedTransactionVersion": 0,
                    "encoding": "json",
                },
            ],
            read=lambda result: result,
        )
        if answer is not None:
            return answer
        time.sleep(float(settings.LIVE_CONFIRM_POLL_SECONDS) * (attempt + 1))
    raise ExternalServiceError(rpc.SOLANA_RPC.name, f"getTransaction {swap.signature}: not found")


def _account_keys(answer: dict) -> list[str]:
    message = answer["transaction"]["message"]
    loaded = answer["meta"].get("loadedAddresses") or {}
    return (
        list(message["accountKeys"])
        + list(loaded.get("writable", []))
        + list(loaded.get("readonly", []))
    )


def _token_raw(balances: list[dict], swap: LiveSwap) -> int:
    """The wallet's raw amount of the swap's token among pre/postTokenBalances (0: no account)."""
    return sum(
        int(entry["uiTokenAmount"]["amount"])
        for entry in balances
        if entry.get("owner") == swap.wallet.address and entry.get("mint") == swap.mint
    )


def send_refusal(exc: ExternalServiceError) -> tuple[str, str] | None:
    """(reason, text) when a send error proves the transaction was not accepted: a preflight
    failure, or a 429 on every attempt. None when it may have been (a timeout, a 5xx)."""
    if exc.status == RATE_LIMITED:
        return "rpc_rate_limited", str(exc)
    body = exc.body if isinstance(exc.body, dict) else {}
    if body.get("code") == PREFLIGHT_FAILURE:
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        return _reason(data.get("err"))[0], str(body.get("message", ""))[:500]
    if body.get("code") == RATE_LIMITED:
        return "rpc_rate_limited", str(body.get("message", ""))[:500]
    return None


def _reason(err) -> tuple[str, str]:
    """A transaction error (its RPC JSON form) as (reason, text)."""
    text = str(err)[:500]
    if err == "BlockhashNotFound":
        return "blockhash_expired", text
    if err in ("InsufficientFundsForFee", "AccountNotFound") or (
        isinstance(err, dict) and "InsufficientFundsForRent" in err
    ):
        return "insufficient_funds", text
    if isinstance(err, dict) and isinstance(err.get("InstructionError"), list):
        detail = err["InstructionError"][1]
        custom = detail.get("Custom") if isinstance(detail, dict) else None
        if custom == SLIPPAGE_EXCEEDED:
            return "slippage_exceeded", text
        if custom in (JUPITER_INSUFFICIENT_FUNDS, SPL_INSUFFICIENT_FUNDS):
            return "insufficient_funds", text
    return "transaction_failed", text


def _fail(swap: LiveSwap, reason: str, text: str, **deltas) -> LiveSwap:
    logger.warning("live swap %s failed: %s (%s)", swap.signature, reason, text)
    return _resolved(swap, status=LiveSwapStatus.FAILED, reason=reason, error=text, **deltas)


def _resolved(swap: LiveSwap, **fields) -> LiveSwap:
    """The swap's outcome, written once: a conditional UPDATE from pending. When another
    worker decided it first, its record is the one returned."""
    fields["resolved_at"] = _now()
    LiveSwap.objects.filter(pk=swap.pk, status=LiveSwapStatus.PENDING).update(**fields)
    return LiveSwap.objects.select_related("wallet").get(pk=swap.pk)


def _outcome(swap: LiveSwap) -> LiveSwap:
    if swap.status == LiveSwapStatus.FAILED:
        raise SwapFailed(f"swap {swap.signature} failed: {swap.error}", code=swap.reason)
    return swap
