"""Venues: where a swap is filled. The executor only sees this small interface.

SimulatedVenue fills at a real (or localnet) Jupiter quote and charges the fees a live swap
would pay, on buys AND sells. The live venue, as LIVE_SWAP_ROUTE says, is JupiterVenue
(Jupiter Metis, trading.live) or UltraVenue (Jupiter Ultra, trading.live_ultra); both swap on
chain and fill at the amounts the chain reports. Every execution names its action (the ledger
entry's idempotency key): a live venue never swaps twice for one action.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings

from nexgent import money
from prices import clients
from trading.live import SwapFailed, live_swap_execute
from trading.live_ultra import live_ultra_execute
from trading.models import LiveSwap
from trading.rules.fees import network_fee_sol, protocol_fee_sol
from trading.rules.shadow import chain_amounts
from trading.selectors import sol_balance
from wallets.models import AgentWallet


@dataclass(frozen=True, slots=True)
class Quote:
    side: str  # "buy" (SOL -> token) or "sell" (token -> SOL)
    mint: str
    decimals: int
    in_raw: int
    out_raw: int
    price_impact: Decimal  # a ratio: 0.0123 is 1.23%
    fee_bps: int
    raw: dict

    @property
    def sol_lamports(self) -> int:
        return self.in_raw if self.side == "buy" else self.out_raw

    @property
    def token_raw(self) -> int:
        return self.out_raw if self.side == "buy" else self.in_raw


@dataclass(frozen=True, slots=True)
class Fill:
    """What a swap did. sol_amount is the SOL side before fees; fees are separate."""

    sol_amount: Decimal
    token_amount: Decimal
    protocol_fee_sol: Decimal
    network_fee_sol: Decimal
    price_impact: Decimal
    tx_signature: str = ""

    @property
    def price(self) -> Decimal:
        """SOL per token, fees excluded."""
        return money.price(money.divide(self.sol_amount, self.token_amount))


class Venue(Protocol):
    def quote_buy(self, *, mint: str, decimals: int, sol_amount: Decimal) -> Quote: ...

    def quote_sell(
        self, *, mint: str, decimals: int, token_amount: Decimal, slippage_bps: int | None = None
    ) -> Quote: ...

    def execute(self, quote: Quote, *, action: str) -> Fill: ...

    def spendable(self, sol_balance: Decimal) -> Decimal:
        """The largest SOL side a buy can have when the wallet holds `sol_balance`: what is left
        once the most the swap can cost on top (fees, rent) is set aside."""
        ...


def _mints(side: str, mint: str) -> tuple[str, str]:
    """(input, output) of a buy (SOL -> token) or a sale."""
    return (money.WSOL_MINT, mint) if side == "buy" else (mint, money.WSOL_MINT)


def _quote(
    side: str, mint: str, decimals: int, amount_raw: int, slippage_bps: int | None = None
) -> Quote:
    input_mint, output_mint = _mints(side, mint)
    body = clients.jupiter_quote(
        input_mint=input_mint,
        output_mint=output_mint,
        amount=amount_raw,
        slippage_bps=slippage_bps or settings.SWAP_SLIPPAGE_BPS,
    )
    return _quote_of(side, mint, decimals, body)


def _quote_of(side: str, mint: str, decimals: int, body: dict) -> Quote:
    """A Metis quote or an Ultra order (the same quote fields) as the venue's Quote."""
    platform_fee = body.get("platformFee") or {}
    return Quote(
        side=side,
        mint=mint,
        decimals=decimals,
        in_raw=int(body["inAmount"]),
        out_raw=int(body["outAmount"]),
        price_impact=Decimal(str(body["priceImpactPct"])),
        fee_bps=int(platform_fee.get("feeBps") or settings.SIM_PROTOCOL_FEE_BPS),
        raw=body,
    )


class MetisQuotes:
    """Quotes from Jupiter Metis, the same for both venues: a shadow of a live trade is
    priced on the quote the live one got."""

    def quote_buy(self, *, mint: str, decimals: int, sol_amount: Decimal) -> Quote:
        return _quote("buy", mint, decimals, money.sol_to_lamports(sol_amount))

    def quote_sell(
        self, *, mint: str, decimals: int, token_amount: Decimal, slippage_bps: int | None = None
    ) -> Quote:
        return _quote("sell", mint, decimals, money.ui_to_raw(token_amount, decimals), slippage_bps)


class SimulatedVenue(MetisQuotes):
    def spendable(self, sol_balance: Decimal) -> Decimal:
        network = network_fee_sol(
            settings.SIM_SIGNATURE_FEE_LAMPORTS,
            settings.SIM_PRIORITY_FEE_LAMPORTS,
            settings.SIM_RENT_FEE_LAMPORTS,
        )
        fee_rate = Decimal(settings.SIM_PROTOCOL_FEE_BPS) / 10_000
        return money.amount((sol_balance - network) / (1 + fee_rate))

    def execute(self, quote: Quote, *, action: str) -> Fill:
        protocol_fee = protocol_fee_sol(quote.fee_bps, money.WSOL_MINT, quote.sol_lamports)
        network_fee = network_fee_sol(
            settings.SIM_SIGNATURE_FEE_LAMPORTS,
            settings.SIM_PRIORITY_FEE_LAMPORTS,
            settings.SIM_RENT_FEE_LAMPORTS,
        )
        return Fill(
            sol_amount=money.lamports_to_sol(quote.sol_lamports),
            token_amount=money.raw_to_ui(quote.token_raw, quote.decimals),
            protocol_fee_sol=protocol_fee or money.ZERO,
            network_fee_sol=network_fee,
            price_impact=quote.price_impact,
        )


# The most a live swap costs beyond its SOL side: the fee of two signatures (the wallet's and a
# route's), the priority fee cap, and the rent of the token account a first buy creates.
LIVE_SIGNATURES_RESERVED = 2
SIGNATURE_FEE_LAMPORTS = 5_000
TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280


class LiveVenue:
    """What both live routes share: the wallet whose key signs, the SOL a buy may spend, and
    the paper twin. Each swap also runs through the simulated venue on its quote; that paper
    fill is recorded beside the real one (trading.shadow_selectors compares them)."""

    def __init__(self, wallet: AgentWallet):
        self.wallet = wallet

    def spendable(self, sol_balance: Decimal) -> Decimal:
        reserve = (
            LIVE_SIGNATURES_RESERVED * SIGNATURE_FEE_LAMPORTS
            + settings.SWAP_PRIORITY_MAX_LAMPORTS
            + TOKEN_ACCOUNT_RENT_LAMPORTS
        )
        return money.amount(sol_balance - money.lamports_to_sol(reserve))

    def execute(self, quote: Quote, *, action: str) -> Fill:
        if quote.side == "buy" and quote.sol_lamports > money.sol_to_lamports(
            self.spendable(sol_balance(self.wallet.pk))
        ):
            # Checked before anything is built: a swap that landed and cost more than the
            # ledger holds could not be recorded, and would be drift.
            raise SwapFailed(
                "the ledger's SOL does not cover the swap with its fees and rent",
                code="insufficient_funds",
            )
        paper = SimulatedVenue().execute(quote, action=action)
        swap = self._swap(quote, action=action, shadow=shadow_fill(paper))
        return live_fill(swap, price_impact=quote.price_impact)

    def _swap(self, quote: Quote, *, action: str, shadow: dict) -> LiveSwap:
        raise NotImplementedError


class JupiterVenue(LiveVenue, MetisQuotes):
    """The live venue over Jupiter Metis (route a): the same quotes as the simulated venue,
    swapped on chain by the wallet's key (trading.live)."""

    def _swap(self, quote: Quote, *, action: str, shadow: dict) -> LiveSwap:
        return live_swap_execute(
            wallet=self.wallet,
            action=action,
            side=quote.side,
            mint=quote.mint,
            decimals=quote.decimals,
            quote=quote.raw,
            shadow=shadow,
        )


class UltraVenue(LiveVenue):
    """The live venue over Jupiter Ultra (LIVE_SWAP_ROUTE=ultra): the quote is an order asked
    with the wallet as taker, so it carries the transaction that `execute` signs and has
    Ultra land (trading.live_ultra); the fill is the chain's, as JupiterVenue's."""

    def quote_buy(self, *, mint: str, decimals: int, sol_amount: Decimal) -> Quote:
        return self._order("buy", mint, decimals, money.sol_to_lamports(sol_amount))

    def quote_sell(
        self, *, mint: str, decimals: int, token_amount: Decimal, slippage_bps: int | None = None
    ) -> Quote:
        # Ultra picks the slippage itself and takes none from us, a stop-loss's wider one
        # included (docs/decisions.md "Live swaps").
        return self._order("sell", mint, decimals, money.ui_to_raw(token_amount, decimals))

    def _order(self, side: str, mint: str, decimals: int, amount_raw: int) -> Quote:
        input_mint, output_mint = _mints(side, mint)
        body = clients.jupiter_order(
            input_mint=input_mint,
            output_mint=output_mint,
            amount=amount_raw,
            taker=self.wallet.address,
        )
        return _quote_of(side, mint, decimals, body)

    def _swap(self, quote: Quote, *, action: str, shadow: dict) -> LiveSwap:
        return live_ultra_execute(
            wallet=self.wallet,
            action=action,
            side=quote.side,
            mint=quote.mint,
            decimals=quote.decimals,
            order=quote.raw,
            shadow=shadow,
        )


def shadow_fill(paper: Fill) -> dict:
    """A paper fill as the LiveSwap fields that keep it."""
    return {
        "paper_sol_amount": paper.sol_amount,
        "paper_token_amount": paper.token_amount,
        "paper_fee_sol": paper.protocol_fee_sol + paper.network_fee_sol,
    }


def live_fill(swap: LiveSwap, *, price_impact: Decimal = money.ZERO) -> Fill:
    """The fill of a landed swap, from what the chain says the wallet paid and got: the
    ledger moves exactly the wallet's on-chain SOL and token deltas (split into swap amount
    and network fee by trading.rules.shadow.chain_amounts). Jupiter's own fee, if any, is
    inside the amounts."""
    amounts = chain_amounts(
        side=swap.side,
        sol_delta=swap.sol_delta_lamports,
        token_delta=int(swap.token_delta_raw),
        fee=swap.fee_lamports,
        quoted_in=int(swap.quoted_in_raw),
    )
    return Fill(
        sol_amount=money.lamports_to_sol(amounts.sol_lamports),
        token_amount=money.raw_to_ui(amounts.token_raw, swap.decimals),
        protocol_fee_sol=money.ZERO,
        network_fee_sol=money.lamports_to_sol(amounts.network_lamports),
        price_impact=price_impact,
        tx_signature=swap.signature,
    )


# The live venue of each LIVE_SWAP_ROUTE: a new route is one more entry.
LIVE_VENUES: dict[str, Callable[[AgentWallet], Venue]] = {
    "metis": JupiterVenue,
    "ultra": UltraVenue,
}


def venue_for(wallet: AgentWallet) -> Venue:
    if wallet.mode == "simulation":
        return SimulatedVenue()
    return LIVE_VENUES[settings.LIVE_SWAP_ROUTE](wallet)
