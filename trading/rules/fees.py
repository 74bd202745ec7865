"""Fees of a swap in SOL (trading-rules.md section 7), from the lamport figures of a quote or
a confirmed transaction."""

from decimal import Decimal

from trading.rules.decimal_math import CONTEXT

WSOL_MINT = "So11111111111111111111111111111111111111112"
SOL_DECIMALS = 9
# A basis point is 10^-4 of the amount, so bps x lamports is in units of 10^-13 SOL.
BPS_OF_LAMPORTS_EXPONENT = -4 - SOL_DECIMALS


def protocol_fee_sol(fee_bps: int, fee_mint: str, sol_side_lamports: int) -> Decimal | None:
    """fee_bps of the SOL side; None when the fee is taken in the token, whose SOL value is
    not known here."""
    if fee_mint != WSOL_MINT:
        return None
    return Decimal(fee_bps * sol_side_lamports).scaleb(BPS_OF_LAMPORTS_EXPONENT, context=CONTEXT)


def network_fee_sol(
    signature_lamports: int | None,
    prioritization_lamports: int | None,
    rent_lamports: int | None,
) -> Decimal:
    """Signature + prioritization + rent; a fee the chain did not report counts as zero."""
    lamports = (signature_lamports or 0) + (prioritization_lamports or 0) + (rent_lamports or 0)
    return Decimal(lamports).scaleb(-SOL_DECIMALS, context=CONTEXT)
