"""Live swaps through Jupiter Ultra (route b, LIVE_SWAP_ROUTE=ultra; external-apis.md 1.5).

The order (the venue's quote, asked with the wallet as taker) carries the unsigned transaction
-> signed with the wallet's key as route (a) signs (trading.live.swap_sign) -> the LiveSwap row
committed BEFORE /execute -> /execute sends it and answers once the chain has decided. Its
answer only says when to look: the outcome and the amounts are read from the chain by route
(a)'s confirmation (trading.live.live_swap_confirm, getTransaction deltas), so both routes
write the ledger from the same real amounts. Only an execute Jupiter refused before sending
(a 429, or a validation code) fails at once; any other answer, or none (a timeout, a 5xx),
leaves the swap to the chain: polled, and sent again through our RPC until it lands or its
blockhash expires. A crash anywhere after the row is committed leaves a pending swap that
`live_swap_settle` and reconcile decide exactly as route (a)'s.
"""

import base64
import logging

from nexgent.http import ExternalServiceError
from prices import clients
from trading.live import (
    live_swap_confirm,
    live_swap_record,
    live_swap_refuse,
    live_swap_settle,
    send_refusal,
    swap_sign,
)
from trading.models import LiveSwap
from wallets import rpc
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)

# /execute codes for a transaction Jupiter refused before sending it: missing or expired
# order, invalid or modified transaction, not fully signed, invalid block height, gasless
# unsupported, RFQ payload invalid, quote expired or swap rejected. The chain never sees it.
REFUSED_CODES = frozenset({-1, -2, -3, -4, -5, -1002, -1003, -1004, -1007, -2002, -2003, -2004})
# A blockhash is valid for 150 blocks after its own (external-apis.md 4.5).
BLOCKHASH_VALIDITY = 150


def live_ultra_execute(
    *,
    wallet: AgentWallet,
    action: str,
    side: str,
    mint: str,
    decimals: int,
    order: dict,
    shadow: dict | None = None,
) -> LiveSwap:
    """The landed swap for `action`, as trading.live.live_swap_execute, over an Ultra order:
    the one already sent for the action if there is one (the order is then not used), else
    the order's transaction signed, recorded, executed and confirmed from the chain. Raises
    SwapFailed with the reason."""
    earlier = live_swap_settle(wallet=wallet, mint=mint, action=action)
    if earlier is not None:
        return earlier
    return live_swap_confirm(
        live_ultra_send(
            wallet=wallet,
            action=action,
            side=side,
            mint=mint,
            decimals=decimals,
            order=order,
            shadow=shadow,
        )
    )


def live_ultra_send(
    *,
    wallet: AgentWallet,
    action: str,
    side: str,
    mint: str,
    decimals: int,
    order: dict,
    shadow: dict | None = None,
) -> LiveSwap:
    """Sign, record and execute one order; the row stays pending unless Jupiter refused it
    before sending (SwapFailed: `rpc_rate_limited` for a 429, else `transaction_failed`)."""
    signed = swap_sign(order["transaction"], wallet, service="jupiter_ultra")
    swap = live_swap_record(
        wallet=wallet,
        action=action,
        side=side,
        mint=mint,
        decimals=decimals,
        quoted_in_raw=int(order["inAmount"]),
        quoted_out_raw=int(order["outAmount"]),
        signed=signed,
        last_valid_block_height=_last_valid_block_height(),
        shadow=shadow,
    )
    logger.info("live %s %s: executing %s through Ultra (%s)", side, mint, swap.signature, action)
    try:
        answer = clients.jupiter_execute(
            signed_transaction=base64.b64encode(bytes(signed)).decode(),
            request_id=str(order["requestId"]),
        )
    except ExternalServiceError as exc:
        refused = send_refusal(exc)
        if refused is not None:
            live_swap_refuse(swap, *refused)
        logger.warning("live swap %s: execute not answered: %s", swap.signature, exc)
        return swap
    if answer["status"] != "Success" and answer["code"] in REFUSED_CODES:
        text = f"Ultra execute {answer['code']}: {answer.get('error', '')}"[:500]
        live_swap_refuse(swap, "transaction_failed", text)
    return swap


def _last_valid_block_height() -> int:
    """An upper bound of the order's blockhash's last valid height, which Ultra does not give:
    that blockhash is at most the latest, so it expires at the latest 150 blocks on from now.
    Waiting a few blocks longer than needed is safe; calling a swap expired while it can still
    land is not."""
    height = rpc.call("getBlockHeight", [{"commitment": "processed"}], read=int)
    return height + BLOCKHASH_VALIDITY
