"""Values and formulas the localnet tests check answers against, written independently of
localnet's own code."""

from decimal import Decimal

WSOL = "So11111111111111111111111111111111111111112"
SOL_USD_FEED = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d"

# A pool with whole-unit reserves: 500 SOL against 500,000 tokens at 0.001 SOL each.
PRICE_SOL = Decimal("0.001")
LIQUIDITY_SOL = Decimal("500")
DECIMALS = 6
SOL_RESERVE_RAW = 500 * 10**9
TOKEN_RESERVE_RAW = 500_000 * 10**DECIMALS
POOL_FEE_BPS = 25  # Raydium's constant-product pools keep 0.25% of the input


def constant_product_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Raw output of an x*y=k pool that keeps its fee from the input, in integers only."""
    net_in = amount_in * (10_000 - POOL_FEE_BPS)
    return reserve_out * net_in // (reserve_in * 10_000 + net_in)


def price_impact(amount_in: int, reserve_in: int) -> Decimal:
    """The share of the pool the net input adds: how far the fill is from the spot price."""
    net_in = Decimal(amount_in * (10_000 - POOL_FEE_BPS))
    return net_in / (reserve_in * 10_000 + net_in)


TRADER_LAMPORTS = 10 * 10**9
SIGNATURE_FEE = 5_000  # lamports per signature
BLOCKHASH_VALIDITY = 150  # blocks
