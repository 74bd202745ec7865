"""Jupiter Tokens v2 search on localnet: `GET /tokens/v2/search?query=...` (external-apis.md
section 1.7), the engine's source of token metrics for the eligibility bounds.

`query` is up to 100 comma-separated mints, or a symbol or name. The answer is an array of
MintInformation built from the synthetic market; a token the market does not list is simply
absent, so an unknown mint answers []. Market cap uses the same pump.fun-size supply as the
DexScreener route, liquidity is the pool's USD depth, and the holder count follows the pool
depth unless a test sets it (`holder_count_set`). `delay_next` slows the next answers, to trip
the engine's timeout.
"""

import threading
import time
import weakref
from dataclasses import dataclass, field
from decimal import Decimal

from localnet.answers import (
    TOKEN_SUPPLY,
    iso_millis,
    json_response,
    jupiter_error,
    number,
    pool_liquidity_usd,
)
from localnet.market import SyntheticMarket, Token

MAX_MINTS = 100
TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
# A plausible crowd: a 500 SOL pool has 1,000 holders.
HOLDERS_PER_SOL_OF_LIQUIDITY = 2


@dataclass
class _Knobs:
    holders: dict[str, int | None] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


# Per market, without adding state to SyntheticMarket itself; dropped with the market.
_knobs: "weakref.WeakKeyDictionary[SyntheticMarket, _Knobs]" = weakref.WeakKeyDictionary()
_knobs_lock = threading.Lock()


def _knobs_of(market: SyntheticMarket) -> _Knobs:
    with _knobs_lock:
        knobs = _knobs.get(market)
        if knobs is None:
            knobs = _knobs[market] = _Knobs()
        return knobs


def holder_count_set(market: SyntheticMarket, mint: str, count: int | None) -> None:
    """Answer `count` holders for the token from now on; None leaves holderCount out."""
    knobs = _knobs_of(market)
    with knobs.lock:
        knobs.holders[mint] = count


def delay_next(market: SyntheticMarket, seconds: float, count: int = 1) -> None:
    """The next `count` searches wait `seconds` before answering."""
    if seconds < 0:
        raise ValueError(f"a delay cannot be negative, got {seconds}")
    knobs = _knobs_of(market)
    with knobs.lock:
        knobs.delays.extend([seconds] * count)


def search(market: SyntheticMarket, request):

    query = (request.param("query") or "").strip()
    if not query:
        raise jupiter_error("Query parameter query is missing")
    terms = [term.strip() for term in query.split(",") if term.strip()]
    if len(terms) > MAX_MINTS:
        raise jupiter_error(f"Too many mints: {len(terms)}, at most {MAX_MINTS} are allowed")
    knobs = _knobs_of(market)
    with knobs.lock:
        delay = knobs.delays.pop(0) if knobs.delays else 0.0
        holders = dict(knobs.holders)
    if delay:
        time.sleep(delay)
    sol_usd, slot = market.sol_usd(), market.slot()
    return json_response(
        [_mint_information(token, sol_usd, slot, holders) for token in _matches(market, terms)]
    )


def _matches(market: SyntheticMarket, terms: list[str]) -> list[Token]:
    tokens = market.lookup(market.tokens())
    found = []
    for term in terms:
        if term in tokens:
            found.append(tokens[term])
            continue
        lowered = term.lower()
        found.extend(
            token
            for token in tokens.values()
            if lowered in (token.symbol.lower(), token.name.lower())
        )
    return list({token.mint: token for token in found}.values())


def _mint_information(token: Token, sol_usd: Decimal, slot: int, holders: dict) -> dict:

    usd_price = token.price_sol * sol_usd
    market_cap = TOKEN_SUPPLY * usd_price
    holder_count = holders.get(token.mint, int(token.liquidity_sol * HOLDERS_PER_SOL_OF_LIQUIDITY))
    entry = {
        "id": token.mint,
        "name": token.name,
        "symbol": token.symbol,
        "icon": None,
        "decimals": token.decimals,
        "tokenProgram": TOKEN_PROGRAM,
        "createdAt": iso_millis(token.listed_at),
        "organicScore": 0,
        "isVerified": False,
        "tags": [],
        "fdv": number(market_cap, 2),
        "mcap": number(market_cap, 2),
        "usdPrice": number(usd_price),
        "priceBlockId": slot,
        "liquidity": number(pool_liquidity_usd(token.liquidity_sol, sol_usd), 2),
    }
    if holder_count is not None:
        entry["holderCount"] = holder_count
    return entry
