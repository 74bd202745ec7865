"""Clients for the market-data services, speaking their real contracts (external-apis.md).

Base URLs and keys come from settings so tests and the demo point them at localnet.
"""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import requests
from django.conf import settings

from nexgent.http import ExternalServiceError, decode_json, make_session, timeout

SOL_USD_FEED_ID = "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d"
JUPITER_PRICE_BATCH = 50

_local = threading.local()


def _session() -> requests.Session:
    # requests.Session is not documented as thread-safe: one per thread.
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = make_session()
    return session


def _jupiter_headers() -> dict:
    return {"x-api-key": settings.JUPITER_API_KEY} if settings.JUPITER_API_KEY else {}


def _get(service: str, url: str, *, params=None, headers=None):
    try:
        response = _session().get(url, params=params, headers=headers, timeout=timeout())
    except requests.RequestException as exc:
        raise ExternalServiceError(service, f"request failed: {exc.__class__.__name__}") from exc
    return response


@dataclass(frozen=True, slots=True)
class TokenPrice:
    mint: str
    usd: Decimal
    decimals: int | None


def jupiter_prices(mints: list[str]) -> dict[str, TokenPrice]:
    """USD prices from Jupiter Price v3, in batches of 50. Mints Jupiter omits are absent."""
    prices: dict[str, TokenPrice] = {}
    for start in range(0, len(mints), JUPITER_PRICE_BATCH):
        batch = mints[start : start + JUPITER_PRICE_BATCH]
        response = _get(
            "jupiter_price",
            settings.JUPITER_PRICE_URL,
            params={"ids": ",".join(batch)},
            headers=_jupiter_headers(),
        )
        if response.status_code != 200:
            raise ExternalServiceError(
                "jupiter_price", f"HTTP {response.status_code}", status=response.status_code
            )
        body = decode_json("jupiter_price", response)
        if not isinstance(body, dict):
            raise ExternalServiceError("jupiter_price", "expected an object keyed by mint")
        for mint, entry in body.items():
            usd = entry.get("usdPrice") if isinstance(entry, dict) else None
            if usd is None or Decimal(usd) <= 0:
                continue
            decimals = entry.get("decimals")
            prices[mint] = TokenPrice(
                mint, Decimal(usd), int(decimals) if decimals is not None else None
            )
    return prices


@dataclass(frozen=True, slots=True)
class SolUsd:
    price: Decimal
    published_at: datetime


def hermes_sol_usd() -> SolUsd:
    """SOL/USD from Pyth Hermes (REST latest). price = price x 10^expo, exactly."""
    headers = {"Authorization": f"Bearer {settings.PYTH_API_KEY}"} if settings.PYTH_API_KEY else {}
    response = _get(
        "hermes",
        f"{settings.HERMES_BASE_URL}/v2/updates/price/latest",
        params={"ids[]": SOL_USD_FEED_ID, "parsed": "true"},
        headers=headers,
    )
    if response.status_code != 200:
        raise ExternalServiceError("hermes", f"HTTP {response.status_code}: {response.text[:200]}")
    body = decode_json("hermes", response)
    for feed in body.get("parsed") or []:
        # Hermes answers ids without 0x; compare normalised ids, never fall back to parsed[0].
        if str(feed.get("id", "")).lower().removeprefix("0x") == SOL_USD_FEED_ID:
            quote = feed["price"]
            value = Decimal(quote["price"]).scaleb(int(quote["expo"]))
            published = datetime.fromtimestamp(int(quote["publish_time"]), tz=UTC)
            if value <= 0:
                raise ExternalServiceError("hermes", "non-positive SOL/USD price")
            return SolUsd(value, published)
    raise ExternalServiceError("hermes", "SOL/USD feed missing from the answer")


def jupiter_quote(*, input_mint: str, output_mint: str, amount: int, slippage_bps: int) -> dict:
    """A Metis v1 quote, returned as the raw JSON map (it must reach /swap unchanged)."""
    response = _get(
        "jupiter_quote",
        f"{settings.JUPITER_BASE_URL}/quote",
        params={
            "inputMint": input_mint,
            "outputMint": output_mint,
            "amount": str(int(amount)),
            "slippageBps": str(slippage_bps),
            "restrictIntermediateTokens": "true",
        },
        headers=_jupiter_headers(),
    )
    body = decode_json("jupiter_quote", response)
    if response.status_code != 200:
        message = body.get("error", "") if isinstance(body, dict) else ""
        code = body.get("errorCode", "") if isinstance(body, dict) else ""
        raise ExternalServiceError(
            "jupiter_quote",
            f"HTTP {response.status_code} {code} {message}".strip(),
            status=response.status_code,
            body=body,
        )
    for field in ("inAmount", "outAmount", "priceImpactPct"):
        if field not in body:
            raise ExternalServiceError("jupiter_quote", f"quote lacks {field}")
    if int(body["outAmount"]) <= 0 or int(body["inAmount"]) <= 0:
        raise ExternalServiceError("jupiter_quote", "quote with a zero amount")
    return body
