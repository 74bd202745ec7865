"""Token metrics for the eligibility bounds, from Jupiter Tokens v2 search (external-apis.md
section 1.7): `GET {base}/tokens/v2/search?query=<mint>` answers an array of MintInformation,
[] for an unknown token; we read `mcap`, `liquidity` (USD) and `holderCount`.

One request per signal, bounded by TOKEN_METRICS_TIMEOUT_SECONDS and never retried: a signal
is worth something only for seconds, and unknown metrics only make the agents that set a
bound ineligible (trading-rules.md section 2.4), which is the safe side.
"""

import logging
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import requests
from django.conf import settings

from nexgent.http import ExternalServiceError, decode_json, make_session
from signals_app.eligibility import TokenMetrics

logger = logging.getLogger(__name__)

SERVICE = "jupiter_tokens"
SEARCH_PATH = "/tokens/v2/search"

_session = make_session(retries=0)


def search_url() -> str:
    base = settings.JUPITER_TOKENS_URL
    if not base:
        # Tokens v2 lives beside Swap on the same host (api.jup.ag/swap/v1 -> api.jup.ag).
        parts = urlsplit(settings.JUPITER_BASE_URL)
        base = f"{parts.scheme}://{parts.netloc}"
    return base.rstrip("/") + SEARCH_PATH


def token_metrics_fetch(mint: str) -> TokenMetrics | None:
    """The token's metrics, or None when Jupiter does not list it or does not answer in time.
    Never raises."""
    headers = {"x-api-key": settings.JUPITER_API_KEY} if settings.JUPITER_API_KEY else {}
    try:
        response = _session.get(
            search_url(),
            params={"query": mint},
            headers=headers,
            timeout=float(settings.TOKEN_METRICS_TIMEOUT_SECONDS),
        )
        if response.status_code != 200:
            raise ExternalServiceError(SERVICE, f"HTTP {response.status_code}")
        payload = decode_json(SERVICE, response)
    except (requests.RequestException, ExternalServiceError) as exc:
        logger.warning("token metrics of %s unknown: %s", mint, exc)
        return None
    entry = _entry_for(payload, mint)
    if entry is None:
        return None
    return TokenMetrics(
        market_cap=_number(entry.get("mcap")),
        liquidity_usd=_number(entry.get("liquidity")),
        holder_count=_count(entry.get("holderCount")),
    )


def _entry_for(payload, mint: str) -> dict | None:
    # A search may also match by symbol or name; only the exact mint is this token.
    if not isinstance(payload, list):
        return None
    for item in payload:
        if isinstance(item, dict) and item.get("id") == mint:
            return item
    return None


def _number(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() and number >= 0 else None


def _count(value) -> int | None:
    number = _number(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)
