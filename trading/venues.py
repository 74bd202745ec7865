"""Venues: where a swap is filled. The executor only sees this small interface.

SimulatedVenue fills at a real (or localnet) Jupiter quote and charges the fees a live swap
would pay, on buys AND sells. JupiterVenue (live, on-chain) implements the same interface.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings

from nexgent import money
from prices import clients
from trading.rules.fees import network_fee_sol, protocol_fee_sol


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

    def quote_sell(self, *, mint: str, decimals: int, token_amount: Decimal) -> Quote: ...

    def execute(self, quote: Quote) -> Fill: ...


def _quote(side: str, mint: str, decimals: int, amount_raw: int) -> Quote:
    input_mint, output_mint = (money.WSOL_MINT, mint) if side == "buy" else (mint, money.WSOL_MINT)
    body = clients.jupiter_quote(
        input_mint=input_mint,
        output_mint=output_mint,
        amount=amount_raw,
        slippage_bps=settings.SWAP_SLIPPAGE_BPS,
    )
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


class SimulatedVenue:
    def quote_buy(self, *, mint: str, decimals: int, sol_amount: Decimal) -> Quote:
        return _quote("buy", mint, decimals, money.sol_to_lamports(sol_amount))

    def quote_sell(self, *, mint: str, decimals: int, token_amount: Decimal) -> Quote:
        return _quote("sell", mint, decimals, money.ui_to_raw(token_amount, decimals))

    def execute(self, quote: Quote) -> Fill:
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


def venue_for(wallet) -> Venue:
    if wallet.mode == "simulation":
        return SimulatedVenue()
    raise NotImplementedError("live trading arrives with the JupiterVenue (issue: live mode)")
