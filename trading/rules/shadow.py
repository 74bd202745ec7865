"""Shadow fills: a live swap beside its paper twin (docs/decisions.md "Shadow fills").

Every live swap is also filled by the simulated venue on the same quote. Per swap the operator
sees what was quoted, what paper filled and what the chain really did; per position, the P/L
the paper twin made against the live P/L. Pure: amounts in, amounts out, exact decimals.
"""

from dataclasses import dataclass
from decimal import Decimal

from trading.rules.decimal_math import CONTEXT

ZERO = Decimal(0)
BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class ChainAmounts:
    """What a landed swap did, split as the ledger records it: the SOL side of the swap, the
    network fee (everything else the wallet paid), and the token side; all raw units."""

    sol_lamports: int
    network_lamports: int
    token_raw: int


def chain_amounts(
    *, side: str, sol_delta: int, token_delta: int, fee: int, quoted_in: int
) -> ChainAmounts:
    """A landed swap's wallet deltas (fee payer's lamports, fee included; raw token units) as
    swap amounts. A buy's SOL side is the quoted input (an ExactIn swap spends exactly that)
    and everything else the wallet paid (fee, priority fee, a new token account's rent) is the
    network fee; a sale's SOL side is what it received plus the fee it paid."""
    if side == "buy":
        spent = -sol_delta
        swapped = min(quoted_in, spent - fee)
        return ChainAmounts(swapped, spent - swapped, token_delta)
    return ChainAmounts(sol_delta + fee, fee, -token_delta)


def slippage_bps(*, quoted_out: Decimal, received: Decimal) -> Decimal:
    """What the swap delivered short of its quote, in basis points of the quote (negative: it
    delivered more). A buy receives tokens, a sale SOL."""
    if quoted_out <= 0:
        return ZERO
    return CONTEXT.divide(CONTEXT.multiply(quoted_out - received, BPS), quoted_out)


@dataclass(frozen=True, slots=True)
class Leg:
    """One landed swap of a position, live and paper, in SOL and token units (fees apart)."""

    side: str  # "buy" or "sell"
    live_sol: Decimal
    live_tokens: Decimal
    live_fee: Decimal
    paper_sol: Decimal
    paper_tokens: Decimal
    paper_fee: Decimal


@dataclass(frozen=True, slots=True)
class PositionGap:
    live_pnl: Decimal
    paper_pnl: Decimal
    paper_tokens_left: Decimal

    @property
    def gap(self) -> Decimal:
        """Live minus paper: negative when live trading cost more than the quotes promised."""
        return self.live_pnl - self.paper_pnl


def position_gap(legs: list[Leg]) -> PositionGap:
    """Live and paper P/L of one position's swaps, in order. Live: SOL received net of fees
    minus SOL spent with fees. Paper: its buys fill at their quotes, so it may hold a different
    number of tokens than live; each live sale of a fraction of the live holding sells the same
    fraction of the paper holding, at the sale quote's price (its paper SOL scaled to the
    paper amount), less the paper fee. A closed position's last sale leaves paper with none."""
    live_cost = live_proceeds = paper_cost = paper_proceeds = ZERO
    live_held = paper_held = ZERO
    for leg in legs:
        if leg.side == "buy":
            live_cost += leg.live_sol + leg.live_fee
            paper_cost += leg.paper_sol + leg.paper_fee
            live_held += leg.live_tokens
            paper_held += leg.paper_tokens
            continue
        live_proceeds += leg.live_sol - leg.live_fee
        sold = (
            paper_held
            if leg.live_tokens >= live_held
            else CONTEXT.divide(CONTEXT.multiply(paper_held, leg.live_tokens), live_held)
        )
        paper_value = CONTEXT.divide(CONTEXT.multiply(leg.paper_sol, sold), leg.live_tokens)
        paper_proceeds += paper_value - leg.paper_fee
        live_held -= leg.live_tokens
        paper_held -= sold
    return PositionGap(
        live_pnl=live_proceeds - live_cost,
        paper_pnl=paper_proceeds - paper_cost,
        paper_tokens_left=paper_held,
    )
