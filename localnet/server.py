"""localnet over HTTP: Jupiter, DexScreener, Pyth Hermes, Solana RPC and OpenAI's Chat
Completions API on one local port.

The routes answer with the real services' shapes, status codes and error bodies
(shared/design/external-apis.md), so the engine's own HTTP clients run against it unchanged.
`/_localnet/...` control routes let demos and other processes drive the synthetic market.

Every route is a row of ROUTES: a function (market, request) -> Response, so a Solana JSON-RPC
route is one more row. A streaming route (Hermes SSE) is one more row too: its Response carries
an iterator of frames, written as a chunked body as they come.
"""

import base64
import json
import logging
import re
import struct
import time
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import unquote

from solders.pubkey import Pubkey

from localnet import chat_completions, jupiter_swap, jupiter_tokens, notify_sink, solana_rpc
from localnet.answers import (
    TOKEN_SUPPLY,
    Rejected,
    Request,
    Response,
    iso_millis,
    json_response,
    jupiter_error,
    number,
    pool_liquidity_usd,
    text_response,
)
from localnet.control import CONTROL_ROUTES
from localnet.market import (
    MAIN_POOL_DEX,
    Fault,
    QuoteError,
    SyntheticMarket,
    Token,
    pool_address,
    significant,
)
from nexgent.money import SOL_DECIMALS, WSOL_MINT, as_str

logger = logging.getLogger(__name__)

SOL_USD_FEED_ID = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d"
USDC_USD_FEED_ID = "eaa020c61cc479712813461ce153894a96a6c00b21ed0cfc2798d1f9a9e9c94a"
HERMES_EXPO = -8
# Pyth's SOL/USD confidence interval is typically a few hundredths of a percent of the price.
HERMES_CONF_RATIO = Decimal("0.0005")
# Pyth accumulator updates start with this magic; the rest of our blob is not a signed VAA.
ACCUMULATOR_MAGIC = b"PNAU"

PRICE_V3_MAX_IDS = 50
DEXSCREENER_MAX_ADDRESSES = 30
U64_MAX = 2**64 - 1
U16_MAX = 2**16 - 1

WSOL_SIDE = {"address": WSOL_MINT, "name": "Wrapped SOL", "symbol": "SOL"}
# Jupiter prices wSOL from the whole market; a fixed depth and listing date stand in for it.
WSOL_LIQUIDITY_USD = Decimal(600_000_000)
WSOL_CREATED_AT = "2024-06-05T08:55:25.527Z"
# pump.fun-style supply, for DexScreener's fdv and marketCap.


class _Listing(NamedTuple):
    """A DexScreener pool of a token against SOL, as a share of the token's SOL liquidity."""

    dex: str
    labels: list[str] | None
    share: Decimal
    sol_is_base: bool


# Real answers list many pools in no meaningful order: the deepest SOL pool is last, a smaller
# one first, and one lists the token as the quote, so a client must filter and pick by liquidity.
DEXSCREENER_LISTINGS = (
    _Listing("meteora", ["DLMM"], Decimal("0.1"), sol_is_base=False),
    _Listing("orca", ["wp"], Decimal("0.05"), sol_is_base=True),
    _Listing(MAIN_POOL_DEX, None, Decimal(1), sol_is_base=False),
)


# Plumbing: requests, responses, routes


class Route(NamedTuple):
    method: str
    pattern: re.Pattern[str]
    service: str | None  # faults, delays, rate limits and the request log apply per service
    handler: Callable[[SyntheticMarket, Request], Response]


def dispatch(
    market: SyntheticMarket,
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
) -> Response:
    path_exists = False
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match is None:
            continue
        path_exists = True
        if route.method == method:
            args = tuple(unquote(group) for group in match.groups())
            request = Request(method, path, query, body, args, headers or {})
            return _serve(market, route, request)
    if path_exists:
        return text_response("Method Not Allowed", 405)
    return text_response("Not Found", 404)


def _serve(market: SyntheticMarket, route: Route, request: Request) -> Response:
    started = time.perf_counter()
    try:
        return _serve_disturbed(market, route, request)
    finally:
        if route.service is not None:
            market.note_served(route.service, time.perf_counter() - started)


def _serve_disturbed(market: SyntheticMarket, route: Route, request: Request) -> Response:
    if route.service is not None:
        disturbance = market.admit(route.service, request.path, request.query)
        if disturbance.delay:
            time.sleep(disturbance.delay)
        fault = disturbance.fault
        if fault is not None and not fault.after:
            return _fault_response(route.service, fault, request)
        if not market.key_accepted(route.service, _presented_key(route.service, request)):
            return _unauthorized(route.service)
        if fault is not None:
            _handle(market, route, request)
            return _fault_response(route.service, fault, request)
    return _handle(market, route, request)


def _handle(market: SyntheticMarket, route: Route, request: Request) -> Response:
    try:
        return route.handler(market, request)
    except Rejected as rejected:
        return rejected.response


def _presented_key(service: str, request: Request) -> str | None:
    """The API key a request carries, where each real service reads it from."""
    if service == "hermes":
        # Hermes takes a bearer token or the ACCESS_TOKEN query parameter.
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            return authorization.removeprefix("Bearer ")
        return request.param("ACCESS_TOKEN")
    if service == "llm":
        return chat_completions.bearer_token(request)
    return request.headers.get("x-api-key")


def _unauthorized(service: str) -> Response:
    # No rate-limit headers on 401s; Hermes answers in plain text like all its errors.
    if service == "hermes":
        return text_response("Unauthorized", 401)
    if service == "llm":
        return chat_completions.unauthorized()
    return json_response({"error": "Unauthorized"}, 401)


def _fault_response(service: str, fault: Fault, request: Request) -> Response:
    if fault.malformed:
        # What a proxy's truncated answer looks like: JSON that stops half way.
        return Response(200, b'{"truncated": ', "application/json")
    if service == "solana_rpc" and fault.status == 429:
        # RPC providers throttle with a JSON-RPC error body under the HTTP status.
        error = {"code": 429, "message": "Too many requests for a specific RPC call"}
        body = {"jsonrpc": "2.0", "error": error, "id": solana_rpc.request_id(request.body)}
        response = json_response(body, 429)
    else:
        response = _error_response(service, fault.status)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    return response


def _error_response(service: str, status: int) -> Response:
    if service == "llm":
        return chat_completions.status_error(status)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if service == "hermes":
        return text_response(phrase, status)
    if status == 429 and service.startswith("jupiter"):
        # The gateway's rate-limit headers; the body is the one the old quote API sent.
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 1)}
        body = {"statusCode": 429, "error": phrase, "message": "Rate limit exceeded"}
        return json_response(body, 429, headers)
    return json_response({"error": phrase}, status)


# Shared formatting


def _change_pct(now: Decimal, then: Decimal) -> float:
    return number((now / then - 1) * 100, 4)


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


# Jupiter Metis v1 quote


def _required(request: Request, name: str) -> str:
    value = request.param(name)
    if value is None:
        raise jupiter_error(f"Query parameter {name} is missing")
    return value


def _mint_param(request: Request, name: str) -> str:
    text = _required(request, name)
    try:
        return str(Pubkey.from_string(text))
    except ValueError as exc:
        raise jupiter_error(f"Query parameter {name} cannot be parsed: {exc}") from exc


def _unsigned_param(request: Request, name: str, maximum: int, default: int | None = None) -> int:
    """Parsed like Rust's `u64::from_str`, with the error text Jupiter's server returns.
    Required unless a default is given."""
    text = _required(request, name) if default is None else request.param(name)
    if text is None:
        return default
    digits = text.removeprefix("+")
    if text == "":
        kind = "Empty"
    elif not re.fullmatch(r"[0-9]+", digits):
        kind = "InvalidDigit"
    elif int(digits) > maximum:
        kind = "PosOverflow"
    else:
        return int(digits)
    raise jupiter_error(
        f"Query parameter {name} cannot be parsed: ParseIntError {{ kind: {kind} }}"
    )


def _jupiter_quote(market: SyntheticMarket, request: Request) -> Response:
    """GET /swap/v1/quote. Routing options (dexes, maxAccounts, legacy flags) are accepted and
    ignored: every token has one pool."""
    input_mint = _mint_param(request, "inputMint")
    output_mint = _mint_param(request, "outputMint")
    amount = _unsigned_param(request, "amount", U64_MAX)
    slippage_bps = _unsigned_param(request, "slippageBps", U16_MAX, default=50)
    swap_mode = request.param("swapMode") or "ExactIn"
    if swap_mode not in ("ExactIn", "ExactOut"):
        raise jupiter_error(
            f"Query parameter swapMode cannot be parsed: unknown variant `{swap_mode}`, "
            "expected `ExactIn` or `ExactOut`"
        )
    try:
        quote = market.quote(input_mint, output_mint, amount, slippage_bps, swap_mode)
    except QuoteError as error:
        raise jupiter_error(error.message, error.code) from error
    return json_response(quote)


# Jupiter Price v3


def _jupiter_price(market: SyntheticMarket, request: Request) -> Response:
    """GET /price/v3?ids=a,b. Mints without a reliable price are omitted, never null."""
    ids = _csv(request.param("ids") or "")
    if not ids:
        raise jupiter_error("Query parameter ids is missing")
    if len(ids) > PRICE_V3_MAX_IDS:
        raise jupiter_error(f"Too many ids: {len(ids)}, at most {PRICE_V3_MAX_IDS} are allowed")
    sol_usd, slot = market.sol_usd(), market.slot()
    tokens = market.lookup(ids)
    prices = {}
    for mint in ids:
        if mint == WSOL_MINT:
            prices[mint] = _wsol_price(market, sol_usd, slot)
        elif mint in tokens and tokens[mint].routable:
            prices[mint] = _token_price(tokens[mint], sol_usd, slot)
    return json_response(prices)


def _token_price(token: Token, sol_usd: Decimal, slot: int) -> dict:
    return _price_entry(
        created_at=iso_millis(token.listed_at),
        liquidity_usd=pool_liquidity_usd(token.liquidity_sol, sol_usd),
        usd_price=token.price_sol * sol_usd,
        slot=slot,
        decimals=token.decimals,
        # Token prices move in SOL in this market, so their change is measured in SOL.
        change_pct=_change_pct(token.price_sol, token.listing_price_sol),
    )


def _wsol_price(market: SyntheticMarket, sol_usd: Decimal, slot: int) -> dict:
    return _price_entry(
        created_at=WSOL_CREATED_AT,
        liquidity_usd=WSOL_LIQUIDITY_USD,
        usd_price=sol_usd,
        slot=slot,
        decimals=SOL_DECIMALS,
        change_pct=_change_pct(sol_usd, market.opening_sol_usd()),
    )


def _price_entry(
    *,
    created_at: str,
    liquidity_usd: Decimal,
    usd_price: Decimal,
    slot: int,
    decimals: int,
    change_pct: float,
) -> dict:
    return {
        "createdAt": created_at,
        "liquidity": number(liquidity_usd, 2),
        "usdPrice": number(usd_price),
        "blockId": slot,
        "decimals": decimals,
        "priceChange24h": change_pct,
    }


# DexScreener


def _dexscreener_addresses(text: str) -> list[str]:
    addresses = _csv(text)
    if len(addresses) > DEXSCREENER_MAX_ADDRESSES:
        message = f"Too many addresses: {len(addresses)}, at most {DEXSCREENER_MAX_ADDRESSES}"
        raise Rejected(json_response({"error": message}, 400))
    return list(dict.fromkeys(addresses))


def _dexscreener_tokens(market: SyntheticMarket, request: Request) -> Response:
    """GET /tokens/v1/{chainId}/{a,b}: a JSON array of pairs; [] for unknown tokens."""
    chain_id, csv = request.args
    addresses = _dexscreener_addresses(csv)
    return json_response(_pairs(market, addresses) if chain_id == "solana" else [])


def _dexscreener_latest(market: SyntheticMarket, request: Request) -> Response:
    """GET /latest/dex/tokens/{a,b}: the legacy envelope, with "pairs": null when none match."""
    pairs = _pairs(market, _dexscreener_addresses(request.args[0]))
    return json_response({"schemaVersion": "1.0.0", "pairs": pairs or None})


def _dexscreener_boosts(market: SyntheticMarket, request: Request) -> Response:
    """GET /token-boosts/latest/v1 (latest boost first) and /token-boosts/top/v1 (most boosted
    first): arrays of boosts, as DexScreener lists them."""
    boosts = market.boosts()
    if request.args[0] == "top":
        boosts.sort(key=lambda boost: -boost[2])
    return json_response(
        [
            {
                "url": f"https://dexscreener.com/solana/{mint.lower()}",
                "chainId": "solana",
                "tokenAddress": mint,
                "amount": amount,
                "totalAmount": total,
                "icon": None,
                "header": None,
                "description": None,
                "links": [],
            }
            for mint, amount, total in boosts
        ]
    )


def _pairs(market: SyntheticMarket, addresses: list[str]) -> list[dict]:
    sol_usd = market.sol_usd()
    tokens = market.lookup(addresses)
    return [
        _pair(tokens[mint], listing, sol_usd)
        for mint in addresses
        if mint in tokens
        for listing in DEXSCREENER_LISTINGS
    ]


def _pair(token: Token, listing: _Listing, sol_usd: Decimal) -> dict:
    """One Pair object; liquidity amounts are whole units, prices are strings, the rest numbers."""
    sol = token.liquidity_sol * listing.share
    tokens = sol / token.price_sol
    token_side = {"address": token.mint, "name": token.name, "symbol": token.symbol}
    if listing.sol_is_base:
        base, quote, base_amount, quote_amount = WSOL_SIDE, token_side, sol, tokens
        price_native, price_usd = 1 / token.price_sol, sol_usd
        change = _change_pct(token.listing_price_sol, token.price_sol)
        market_cap = None
    else:
        base, quote, base_amount, quote_amount = token_side, WSOL_SIDE, tokens, sol
        price_native, price_usd = token.price_sol, token.price_sol * sol_usd
        change = _change_pct(token.price_sol, token.listing_price_sol)
        market_cap = number(TOKEN_SUPPLY * price_usd, 2)
    address = pool_address(token.mint, listing.dex)
    return {
        "chainId": "solana",
        "dexId": listing.dex,
        "url": f"https://dexscreener.com/solana/{address.lower()}",
        "pairAddress": address,
        "labels": listing.labels,
        "baseToken": base,
        "quoteToken": quote,
        "priceNative": as_str(significant(price_native)),
        "priceUsd": as_str(significant(price_usd)),
        # Quotes never trade in the synthetic market, so there is no volume to report.
        "txns": {"h24": {"buys": 0, "sells": 0}},
        "volume": {"h24": 0},
        "priceChange": {"h24": change},
        "liquidity": {
            "usd": number(pool_liquidity_usd(sol, sol_usd), 2),
            "base": number(base_amount),
            "quote": number(quote_amount),
        },
        "fdv": market_cap,
        "marketCap": market_cap,
        "pairCreatedAt": int(token.listed_at.timestamp() * 1000),
    }


# Pyth Hermes

FEEDS: dict[str, Callable[[SyntheticMarket], Decimal]] = {
    SOL_USD_FEED_ID: SyntheticMarket.sol_usd,
    USDC_USD_FEED_ID: lambda market: Decimal(1),
}


def _hermes_error(message: str, status: int = 400) -> Rejected:
    return Rejected(text_response(message, status))


def _hermes_ids(request: Request) -> list[str]:
    """ids[] in any case, with or without 0x; answered lowercase without 0x, like Hermes."""
    raw_ids = request.query.get("ids[]")
    if not raw_ids:
        raise _hermes_error("Failed to deserialize query string: missing field `ids`")
    ids = []
    for raw in raw_ids:
        feed_id = raw.lower().removeprefix("0x")
        if not re.fullmatch(r"[0-9a-f]{64}", feed_id):
            raise _hermes_error(f"Failed to deserialize query string: invalid price id {raw!r}")
        ids.append(feed_id)
    return list(dict.fromkeys(ids))


def _hermes_flag(request: Request, name: str, default: bool) -> bool:
    value = request.param(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise _hermes_error(f"Failed to deserialize query string: invalid value for `{name}`")
    return value == "true"


class _HermesQuery(NamedTuple):
    ids: list[str]  # known feeds only
    encoding: str
    parsed: bool


def _hermes_query(request: Request, *, stream: bool = False) -> _HermesQuery:
    """The query both price endpoints take (the stream adds two ordering flags)."""
    ids = _hermes_ids(request)
    encoding = request.param("encoding") or "hex"
    if encoding not in ("hex", "base64"):
        raise _hermes_error(f"Failed to deserialize query string: unknown encoding {encoding!r}")
    parsed = _hermes_flag(request, "parsed", default=True)
    if stream:
        # Accepted and checked; the synthetic feed publishes in order and has no benchmarks.
        _hermes_flag(request, "allow_unordered", default=False)
        _hermes_flag(request, "benchmarks_only", default=False)
    unknown = [feed_id for feed_id in ids if feed_id not in FEEDS]
    if unknown and not _hermes_flag(request, "ignore_invalid_price_ids", default=False):
        raise _hermes_error(f"Price ids not found: {', '.join(unknown)}", 404)
    return _HermesQuery([feed_id for feed_id in ids if feed_id in FEEDS], encoding, parsed)


def _hermes_latest(market: SyntheticMarket, request: Request) -> Response:
    """GET /v2/updates/price/latest: one accumulator blob for all ids plus the parsed prices."""
    return json_response(_price_update(market, _hermes_query(request)))


def _hermes_stream(market: SyntheticMarket, request: Request) -> Response:
    """GET /v2/updates/price/stream: the same checks (an unknown id is a 404 before the stream
    starts), then one `data:` event per update on the stream's clock (localnet.stream)."""
    query = _hermes_query(request, stream=True)

    def update() -> bytes:
        body = json.dumps(_price_update(market, query), separators=(",", ":"))
        return f"data: {body}\n\n".encode()

    return Response(
        200,
        b"",
        "text/event-stream",
        {"Cache-Control": "no-cache"},
        stream=market.hermes_stream.frames(update),
    )


def _price_update(market: SyntheticMarket, query: _HermesQuery) -> dict:
    """A PriceUpdate: the binary blob and, unless parsed=false, the parsed prices."""
    now, slot = int(time.time()) - market.publish_lag(), market.slot()
    updates = [_feed_update(feed_id, FEEDS[feed_id](market), now, slot) for feed_id in query.ids]
    blob = _accumulator_blob(updates)
    data = blob.hex() if query.encoding == "hex" else base64.b64encode(blob).decode()
    body: dict = {"binary": {"encoding": query.encoding, "data": [data]}}
    if query.parsed:
        body["parsed"] = updates
    return body


def _feed_update(feed_id: str, value: Decimal, now: int, slot: int) -> dict:
    price = int(value.scaleb(-HERMES_EXPO).to_integral_value(rounding=ROUND_HALF_EVEN))
    conf = int((value * HERMES_CONF_RATIO).scaleb(-HERMES_EXPO).to_integral_value())
    quote = {"price": str(price), "conf": str(conf), "expo": HERMES_EXPO, "publish_time": now}
    return {
        "id": feed_id,
        "price": quote,
        # The synthetic feed keeps no history, so its moving average is the price itself.
        "ema_price": dict(quote),
        "metadata": {"slot": slot, "proof_available_time": now, "prev_publish_time": now - 1},
    }


def _accumulator_blob(updates: list[dict]) -> bytes:
    """Opaque bytes in the place of Pyth's signed update; clients only pass them on."""
    blob = ACCUMULATOR_MAGIC
    for update in updates:
        quote = update["price"]
        blob += bytes.fromhex(update["id"])
        blob += struct.pack(
            ">qQiq", int(quote["price"]), int(quote["conf"]), quote["expo"], quote["publish_time"]
        )
    return blob


def _route(method: str, pattern: str, service: str | None, handler) -> Route:
    return Route(method, re.compile(pattern), service, handler)


ROUTES = (
    _route("GET", r"/swap/v1/quote", "jupiter_quote", _jupiter_quote),
    _route("POST", r"/swap/v1/swap", "jupiter_swap", jupiter_swap.swap),
    _route("GET", r"/(?:ultra/v1|swap/v2)/order", "jupiter_ultra", jupiter_swap.order),
    _route("POST", r"/(?:ultra/v1|swap/v2)/execute", "jupiter_ultra", jupiter_swap.execute),
    # Solana JSON-RPC at the root, like a validator's RPC port.
    _route("POST", r"/", "solana_rpc", solana_rpc.handle),
    _route("GET", r"/price/v3", "jupiter_price", _jupiter_price),
    _route("GET", r"/tokens/v2/search", "jupiter_tokens", jupiter_tokens.search),
    _route("GET", r"/tokens/v1/([^/]+)/([^/]*)", "dexscreener", _dexscreener_tokens),
    _route("GET", r"/latest/dex/tokens/([^/]*)", "dexscreener", _dexscreener_latest),
    _route("GET", r"/token-boosts/(latest|top)/v1", "dexscreener", _dexscreener_boosts),
    _route("GET", r"/v2/updates/price/latest", "hermes", _hermes_latest),
    _route("GET", r"/v2/updates/price/stream", "hermes", _hermes_stream),
    _route("POST", r"/v1/chat/completions", "llm", chat_completions.chat_completion),
    _route("GET", r"/v1/models", "llm", chat_completions.models),
    # Any other path of OpenAI's API: its 404, outside the service so no fault is spent on it.
    _route("GET", r"/v1/.*", None, chat_completions.unknown_path),
    _route("POST", r"/v1/.*", None, chat_completions.unknown_path),
    # Not a market service: where Apprise's json:// URLs deliver the engine's notifications.
    _route("POST", r"/notify-sink/([^/]+)", None, notify_sink.receive),
    _route("GET", r"/notify-sink/([^/]+)", None, notify_sink.listing),
    *(_route(method, pattern, None, handler) for method, pattern, handler in CONTROL_ROUTES),
)
