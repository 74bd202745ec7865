"""Clients for the market-data services, speaking their real contracts (external-apis.md).

Every request goes through prices.providers (budget, timeout, retries, metrics, status). Base
URLs and keys come from settings, so tests and the demo point them at localnet. Numbers are
read as Decimal straight from the JSON text: no price ever passes through a float.

Batched calls return what the batches that answered gave: a mint whose batch failed is
absent, exactly like a mint the provider has no price for. Only when every batch failed do
they raise, so the caller can tell "provider down" from "no data".
"""

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import requests
from django.conf import settings

from nexgent.http import ExternalServiceError, decode_json
from nexgent.money import WSOL_MINT
from prices import providers

SOL_USD_FEED_ID = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d"
JUPITER_PRICE_BATCH = 50
DEXSCREENER_BATCH = 30
TOKENS_SEARCH_PATH = "/tokens/v2/search"
_INTEGER = re.compile(r"-?[0-9]+")


# Shared reading helpers


def _decimal(value) -> Decimal | None:
    """A finite Decimal from a JSON number (read as Decimal or int) or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _positive(value) -> Decimal | None:
    number = _decimal(value)
    return number if number is not None and number > 0 else None


def _integer(value) -> int:
    """Hermes sends i64 prices as strings and expo and times as numbers: integers either way,
    and a fraction is refused rather than truncated."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise ValueError(f"expected an integer, got {value!r}")


def _batches(mints: list[str], size: int) -> list[list[str]]:
    unique = list(dict.fromkeys(mints))
    batches = [unique[start : start + size] for start in range(0, len(unique), size)]
    if not batches:
        return []
    # When the request budget cannot cover every batch of a tick, the refused batches would be
    # the same ones every tick and their tokens would never be priced. Starting at a random
    # batch spreads the gaps over all tokens.
    first = random.randrange(len(batches))
    return batches[first:] + batches[:first]


def _each_batch(mints: list[str], size: int, fetch: Callable[[list[str]], dict]) -> dict:
    results: dict = {}
    failure: ExternalServiceError | None = None
    answered = False
    for batch in _batches(mints, size):
        try:
            results.update(fetch(batch))
        except ExternalServiceError as exc:
            failure = exc
        else:
            answered = True
    if failure is not None and not answered:
        raise failure
    return results


# Jupiter Price v3


@dataclass(frozen=True, slots=True)
class TokenPrice:
    mint: str
    usd: Decimal
    decimals: int | None


def _jupiter_headers() -> dict:
    return {"x-api-key": settings.JUPITER_API_KEY} if settings.JUPITER_API_KEY else {}


def jupiter_prices(mints: list[str]) -> dict[str, TokenPrice]:
    """USD prices from Jupiter Price v3, in batches of 50. Mints Jupiter omits are absent."""
    return _each_batch(mints, JUPITER_PRICE_BATCH, _jupiter_price_batch)


def _jupiter_price_batch(batch: list[str]) -> dict[str, TokenPrice]:
    def parse(response: requests.Response) -> dict[str, TokenPrice]:
        body = decode_json("jupiter_price", response)
        if not isinstance(body, dict):
            raise ExternalServiceError("jupiter_price", "expected an object keyed by mint")
        found = (_jupiter_entry(mint, body.get(mint)) for mint in batch)
        return {quote.mint: quote for quote in found if quote is not None}

    return providers.get(
        providers.JUPITER_PRICE,
        settings.JUPITER_PRICE_URL,
        params={"ids": ",".join(batch)},
        headers=_jupiter_headers(),
        parse=parse,
    )


def _jupiter_entry(mint: str, entry) -> TokenPrice | None:
    """Jupiter says "no reliable price" by omitting the mint; an entry we cannot use is read
    the same way rather than failing the batch."""
    if not isinstance(entry, dict):
        return None
    usd = _positive(entry.get("usdPrice"))
    if usd is None:
        return None
    decimals = entry.get("decimals")
    if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 255:
        decimals = None
    return TokenPrice(mint, usd, decimals)


# DexScreener


@dataclass(frozen=True, slots=True)
class DexPrice:
    mint: str
    price_sol: Decimal
    price_usd: Decimal | None


def dexscreener_prices(mints: list[str]) -> dict[str, DexPrice]:
    """SOL prices from DexScreener, in batches of 30: priceNative of the token's wSOL-quoted
    pair with the most liquidity.usd. Tokens without such a pair are absent."""

    def fetch(batch: list[str]) -> dict[str, DexPrice]:
        pairs = _dexscreener_pairs(batch)
        found = (best_sol_price(mint, pairs) for mint in batch)
        return {price.mint: price for price in found if price is not None}

    return _each_batch(mints, DEXSCREENER_BATCH, fetch)


def liquidity_sol(mints: list[str]) -> dict[str, Decimal]:
    """SOL in each token's deepest SOL pool, for the rug check: 0 when the token has no SOL
    pool at all. A mint whose batch failed is absent: a fetch error is not a rug."""

    def fetch(batch: list[str]) -> dict[str, Decimal]:
        pairs = _dexscreener_pairs(batch)
        return {mint: deepest_sol_liquidity(mint, pairs) for mint in batch}

    return _each_batch(mints, DEXSCREENER_BATCH, fetch)


@dataclass(frozen=True, slots=True)
class TokenMarket:
    """A token's market on DexScreener, from its deepest SOL-quoted pool: what the AI
    strategist shows the model of a candidate. A figure DexScreener did not give is None."""

    mint: str
    symbol: str
    price_sol: Decimal
    price_usd: Decimal | None
    liquidity_usd: Decimal
    market_cap_usd: Decimal | None
    volume_24h_usd: Decimal | None
    price_change_1h_percent: Decimal | None
    price_change_24h_percent: Decimal | None


def dexscreener_markets(mints: list[str]) -> dict[str, TokenMarket]:
    """Each token's market from its deepest wSOL-quoted pair, in batches of 30; tokens without
    such a pair are absent."""

    def fetch(batch: list[str]) -> dict[str, TokenMarket]:
        pairs = _dexscreener_pairs(batch)
        found = (_deepest_market(mint, pairs) for mint in batch)
        return {market.mint: market for market in found if market is not None}

    return _each_batch(mints, DEXSCREENER_BATCH, fetch)


def _deepest_market(mint: str, pairs: list[dict]) -> TokenMarket | None:
    best: tuple[Decimal, dict, Decimal] | None = None
    for pair in pairs:
        if _sol_side(pair, mint) != "quote":
            continue
        price_sol = _positive(pair.get("priceNative"))
        depth = _liquidity(pair, "usd")
        if price_sol is not None and (best is None or depth > best[0]):
            best = (depth, pair, price_sol)
    if best is None:
        return None
    depth, pair, price_sol = best
    base = pair.get("baseToken") if isinstance(pair.get("baseToken"), dict) else {}
    symbol = base.get("symbol") if isinstance(base.get("symbol"), str) else ""
    return TokenMarket(
        mint=mint,
        symbol=symbol[:32],
        price_sol=price_sol,
        price_usd=_positive(pair.get("priceUsd")),
        liquidity_usd=depth,
        market_cap_usd=_positive(pair.get("marketCap")),
        volume_24h_usd=_decimal(_field(pair, "volume", "h24")),
        price_change_1h_percent=_decimal(_field(pair, "priceChange", "h1")),
        price_change_24h_percent=_decimal(_field(pair, "priceChange", "h24")),
    )


def _field(pair: dict, group: str, name: str):
    values = pair.get(group)
    return values.get(name) if isinstance(values, dict) else None


def dexscreener_boosted_tokens() -> list[str]:
    """The Solana tokens with the most DexScreener boosts, most boosted first, each once."""

    def parse(response: requests.Response) -> list[str]:
        body = decode_json("dexscreener", response)
        if not isinstance(body, list):
            raise ExternalServiceError("dexscreener", "expected an array of boosts")
        mints = (
            boost.get("tokenAddress")
            for boost in body
            if isinstance(boost, dict) and boost.get("chainId") == "solana"
        )
        return list(dict.fromkeys(mint for mint in mints if isinstance(mint, str) and mint))

    url = f"{settings.DEXSCREENER_BASE_URL}/token-boosts/top/v1"
    return providers.get(providers.DEXSCREENER, url, parse=parse)


def _dexscreener_pairs(batch: list[str]) -> list[dict]:
    def parse(response: requests.Response) -> list[dict]:
        body = decode_json("dexscreener", response)
        if not isinstance(body, list):
            raise ExternalServiceError("dexscreener", "expected an array of pairs")
        return [pair for pair in body if isinstance(pair, dict)]

    # Addresses are case-sensitive base58: they go into the URL exactly as given.
    url = f"{settings.DEXSCREENER_BASE_URL}/tokens/v1/solana/{','.join(batch)}"
    return providers.get(providers.DEXSCREENER, url, parse=parse)


def _address(pair: dict, side: str) -> str:
    token = pair.get(side)
    address = token.get("address") if isinstance(token, dict) else None
    # Compared lowercased, as DexScreener's own clients do; never sent lowercased.
    return address.lower() if isinstance(address, str) else ""


def _sol_side(pair: dict, mint: str) -> str | None:
    """Which liquidity field holds the SOL of a pool of `mint` against wSOL, if it is one."""
    base, quote, mint, wsol = (
        _address(pair, "baseToken"),
        _address(pair, "quoteToken"),
        mint.lower(),
        WSOL_MINT.lower(),
    )
    if base == mint and quote == wsol:
        return "quote"
    if base == wsol and quote == mint:
        return "base"
    return None


def _liquidity(pair: dict, field_name: str) -> Decimal:
    liquidity = pair.get("liquidity")
    value = _decimal(liquidity.get(field_name)) if isinstance(liquidity, dict) else None
    return value if value is not None and value > 0 else Decimal(0)


def best_sol_price(mint: str, pairs: list[dict]) -> DexPrice | None:
    best: tuple[Decimal, DexPrice] | None = None
    for pair in pairs:
        # Only pools quoted in wSOL: their priceNative is the token's price in SOL.
        if _sol_side(pair, mint) != "quote":
            continue
        price_sol = _positive(pair.get("priceNative"))
        if price_sol is None:
            continue
        depth = _liquidity(pair, "usd")
        if best is None or depth > best[0]:
            best = (depth, DexPrice(mint, price_sol, _positive(pair.get("priceUsd"))))
    return best[1] if best is not None else None


def deepest_sol_liquidity(mint: str, pairs: list[dict]) -> Decimal:
    # A pool listing SOL as its base still holds SOL; leaving it out would call a token with
    # only such a pool rugged.
    depths = (
        _liquidity(pair, side) for pair in pairs if (side := _sol_side(pair, mint)) is not None
    )
    return max(depths, default=Decimal(0))


# Pyth Hermes


@dataclass(frozen=True, slots=True)
class SolUsd:
    price: Decimal
    published_at: datetime  # Pyth's publish_time: the price's own age
    source: str = "hermes_rest"  # or "hermes_stream"
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def hermes_headers() -> dict:
    return {"Authorization": f"Bearer {settings.PYTH_API_KEY}"} if settings.PYTH_API_KEY else {}


def hermes_params() -> dict:
    return {"ids[]": SOL_USD_FEED_ID, "parsed": "true"}


def hermes_sol_usd() -> SolUsd:
    """SOL/USD from Pyth Hermes (REST latest)."""
    return providers.get(
        providers.HERMES,
        f"{settings.HERMES_BASE_URL}/v2/updates/price/latest",
        params=hermes_params(),
        headers=hermes_headers(),
        parse=lambda response: sol_usd_from_update(
            decode_json("hermes", response), source="hermes_rest"
        ),
    )


def sol_usd_from_update(body, *, source: str) -> SolUsd:
    """SOL/USD from a Hermes PriceUpdate (REST answer or one stream event).

    price = int(price) x 10^expo, exactly. Hermes answers ids without 0x: ids are compared
    normalised, and a missing SOL/USD feed is an error, never parsed[0].
    Raises ExternalServiceError or ValueError/KeyError/TypeError on an unreadable update.
    """
    if not isinstance(body, dict):
        raise ExternalServiceError("hermes", "expected a PriceUpdate object")
    for feed in body.get("parsed") or []:
        if isinstance(feed, dict) and _feed_id(feed) == SOL_USD_FEED_ID:
            quote = feed["price"]
            value = Decimal(_integer(quote["price"])).scaleb(_integer(quote["expo"]))
            if value <= 0:
                raise ExternalServiceError("hermes", "non-positive SOL/USD price")
            published = datetime.fromtimestamp(_integer(quote["publish_time"]), tz=UTC)
            return SolUsd(value, published, source)
    raise ExternalServiceError("hermes", "SOL/USD feed missing from the answer")


def _feed_id(feed: dict) -> str:
    return str(feed.get("id", "")).lower().removeprefix("0x")


# Jupiter Metis v1 quote


def jupiter_quote(*, input_mint: str, output_mint: str, amount: int, slippage_bps: int) -> dict:
    """A Metis v1 quote, returned as the raw JSON map (it must reach /swap unchanged)."""
    return providers.get(
        providers.JUPITER_QUOTE,
        f"{settings.JUPITER_BASE_URL}/quote",
        params={
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": str(int(amount)),
            "slippageBps": str(slippage_bps),
            "restrictIntermediateTokens": "true",
        },
        headers=_jupiter_headers(),
        parse=_read_quote,
    )


def _read_quote(response: requests.Response, service: str = "jupiter_quote") -> dict:
    body = decode_json(service, response)
    if not isinstance(body, dict):
        raise ExternalServiceError(service, "expected a quote object")
    for name in ("inAmount", "outAmount", "priceImpactPct"):
        if name not in body:
            raise ExternalServiceError(service, f"quote lacks {name}")
    if int(body["outAmount"]) <= 0 or int(body["inAmount"]) <= 0:
        raise ExternalServiceError(service, "quote with a zero amount")
    return body


def jupiter_swap(*, quote: dict, user_public_key: str) -> dict:
    """A Metis v1 swap transaction for `quote` (passed back unchanged, as Jupiter requires),
    unsigned, with `userPublicKey` as signer and fee payer, a compute-unit limit set from
    Jupiter's simulation and the configured priority fee. Safe to retry: it builds a
    transaction, it sends nothing."""
    return providers.post(
        providers.JUPITER_SWAP,
        f"{settings.JUPITER_BASE_URL}/swap",
        json={
            "userPublicKey": user_public_key,
            "quoteResponse": _json_numbers(quote),
            "wrapAndUnwrapSol": True,
            "dynamicComputeUnitLimit": True,
            "prioritizationFeeLamports": {
                "priorityLevelWithMaxLamports": {
                    "priorityLevel": settings.SWAP_PRIORITY_LEVEL,
                    "maxLamports": settings.SWAP_PRIORITY_MAX_LAMPORTS,
                }
            },
        },
        headers=_jupiter_headers(),
        parse=_read_swap,
    )


def _json_numbers(value):
    """The quote as it came, with the Decimals our JSON reader made of its fractional numbers
    back to floats for the JSON writer. Nothing changes for Jupiter: its server reads those
    numbers as f64, and a float holds exactly the f64 that the original text denoted."""
    if isinstance(value, dict):
        return {key: _json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_numbers(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    return value


def _read_swap(response: requests.Response) -> dict:
    body = decode_json("jupiter_swap", response)
    if not isinstance(body, dict):
        raise ExternalServiceError("jupiter_swap", "expected a swap object")
    for name in ("swapTransaction", "lastValidBlockHeight"):
        if name not in body:
            raise ExternalServiceError("jupiter_swap", f"swap lacks {name}")
    return body


# Jupiter Ultra / Swap v2 order + execute (external-apis.md section 1.5)


def jupiter_order(*, input_mint: str, output_mint: str, amount: int, taker: str) -> dict:
    """An Ultra order: a quote (the Metis fields, `priceImpactPct` a ratio) and, for `taker`,
    the unsigned transaction to sign and its `requestId`. Ultra picks the slippage itself, so
    none is asked. Safe to retry: it builds a transaction, it sends nothing."""
    return providers.get(
        providers.JUPITER_ULTRA,
        f"{settings.JUPITER_ULTRA_URL}/order",
        params={
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": str(int(amount)),
            "taker": taker,
        },
        headers=_jupiter_headers(),
        parse=_read_order,
    )


def _read_order(response: requests.Response) -> dict:
    body = _read_quote(response, "jupiter_ultra")
    # A taker who cannot pay gets a 200 with an error code and no transaction.
    if body.get("errorCode"):
        raise ExternalServiceError(
            "jupiter_ultra",
            f"order refused: errorCode {body['errorCode']} {body.get('errorMessage', '')}".strip(),
            body=body,
        )
    for name in ("transaction", "requestId"):
        if not body.get(name):
            raise ExternalServiceError("jupiter_ultra", f"order lacks {name}")
    return body


def jupiter_execute(*, signed_transaction: str, request_id: str) -> dict:
    """Ultra lands the signed order transaction and answers when it has confirmed, failed or
    expired: {status, signature, code, error?, amounts}. The read waits as long as a trade
    waits for the chain (LIVE_CONFIRM_TIMEOUT_SECONDS). Safe to retry: the same signed bytes
    are the same transaction, so a repeated execute cannot swap twice."""
    return providers.post(
        providers.JUPITER_ULTRA,
        f"{settings.JUPITER_ULTRA_URL}/execute",
        json={"signedTransaction": signed_transaction, "requestId": request_id},
        headers=_jupiter_headers(),
        parse=_read_execute,
        read_timeout=float(settings.LIVE_CONFIRM_TIMEOUT_SECONDS),
    )


def _read_execute(response: requests.Response) -> dict:
    body = decode_json("jupiter_ultra", response)
    if not isinstance(body, dict) or "status" not in body:
        raise ExternalServiceError("jupiter_ultra", "expected an execute answer with a status")
    body["code"] = int(body.get("code") or 0)
    return body


# Jupiter Tokens v2 search (token metrics for the eligibility bounds)


@dataclass(frozen=True, slots=True)
class TokenMetrics:
    """What Jupiter knows of a token; a field it did not give is None (unknown)."""

    market_cap: Decimal | None
    liquidity_usd: Decimal | None
    holder_count: int | None


def search_url() -> str:
    base = settings.JUPITER_TOKENS_URL
    if not base:
        # Tokens v2 lives beside Swap on the same host (api.jup.ag/swap/v1 -> api.jup.ag).
        parts = urlsplit(settings.JUPITER_BASE_URL)
        base = f"{parts.scheme}://{parts.netloc}"
    return base.rstrip("/") + TOKENS_SEARCH_PATH


def jupiter_token_metrics(mint: str) -> TokenMetrics | None:
    """Market cap, liquidity (USD) and holder count from Jupiter Tokens v2 search; None when
    Jupiter does not list the mint. Raises ExternalServiceError.

    One attempt within TOKEN_METRICS_TIMEOUT_SECONDS: a signal is worth something only for
    seconds, and unknown metrics only make the agents that set a bound ineligible.
    """

    def parse(response: requests.Response) -> TokenMetrics | None:
        body = decode_json("jupiter_tokens", response)
        if not isinstance(body, list):
            raise ExternalServiceError("jupiter_tokens", "expected an array of tokens")
        # A search also matches symbols and names: only the entry of the exact mint counts.
        entry = next((e for e in body if isinstance(e, dict) and e.get("id") == mint), None)
        if entry is None:
            return None
        return TokenMetrics(
            market_cap=_non_negative(entry.get("mcap")),
            liquidity_usd=_non_negative(entry.get("liquidity")),
            holder_count=_whole(entry.get("holderCount")),
        )

    return providers.get(
        providers.JUPITER_TOKENS,
        search_url(),
        params={"query": mint},
        headers=_jupiter_headers(),
        parse=parse,
        retries=0,
        read_timeout=float(settings.TOKEN_METRICS_TIMEOUT_SECONDS),
    )


def _non_negative(value) -> Decimal | None:
    number = _decimal(value)
    return number if number is not None and number >= 0 else None


def _whole(value) -> int | None:
    number = _non_negative(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)
