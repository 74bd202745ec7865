"""How every market-data request goes out.

- A plain `requests.Session.request` (GET, or POST for JSON-RPC) on this thread's session,
  with a timeout on every request (HTTP_TIMEOUT_SECONDS, or the caller's read timeout).
- A request budget per provider, shared by every process: the `limits` library's sliding
  window counter, in Redis when REDIS_URL is set (every worker counts against the same
  window), else in this process's memory (the embedded default is one process). The count
  of the last window is estimated from two fixed windows, the older one weighted by how much
  of it still overlaps: unlike a token bucket that starts full, it does not let a window's
  worth of requests through on top of the last window's, which the providers' own sliding
  windows would answer with 429s.
- Bounded retries on 429 and 5xx, waiting as long as Retry-After or x-ratelimit-reset asks.
  A provider that asks for a longer pause than a tick can afford is left alone until then (a
  cooldown, in the Django cache) instead of being asked again.
- Each attempt counted in metrics by provider and outcome, with its latency; each call's result
  kept in the Django cache as the provider's status (GET /api/v1/data-sources/status).
"""

import email.utils
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, NoReturn, TypeVar

import requests
from django.conf import settings
from django.core.cache import cache
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from nexgent import metrics
from nexgent.http import ExternalServiceError
from nexgent.logs import redact
from prices import events

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A source that failed this many times in a row without an answer in between is down, not
# blipping (each failure has already been retried by the client): readiness says so
# (prices/health.py) and operators are notified once, as it goes down.
FAILURES_THAT_MEAN_DOWN = 3

# A provider without a budget of ours is still counted for its status, against a limit that
# no window of real requests comes near: it is never refused.
_UNLIMITED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Provider:
    name: str  # the metric label, the status key and the budget's identifier
    window_seconds: int
    budget_setting: str | None = None  # the setting holding requests allowed per window

    def budget(self) -> int | None:
        return getattr(settings, self.budget_setting) if self.budget_setting else None

    def limit(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.budget() or _UNLIMITED, self.window_seconds)


# Windows are the providers' own: Jupiter and DexScreener count per minute, Hermes per 10 s.
JUPITER_PRICE = Provider("jupiter_price", 60, "JUPITER_PRICE_REQUESTS_PER_MINUTE")
DEXSCREENER = Provider("dexscreener", 60, "DEXSCREENER_REQUESTS_PER_MINUTE")
HERMES = Provider("hermes", 10, "HERMES_REQUESTS_PER_10_SECONDS")
# Quotes are on the trade path: a buy or an exit is never refused by our own budget, only
# counted; Jupiter's 429s still reach the retry logic below.
JUPITER_QUOTE = Provider("jupiter_quote", 60)
# Swap transactions (live trading): on the trade path like quotes, never refused by a budget.
JUPITER_SWAP = Provider("jupiter_swap", 60)
# Ultra orders and executions (live trading, LIVE_SWAP_ROUTE=ultra): on the trade path too.
JUPITER_ULTRA = Provider("jupiter_ultra", 60)
# Token metrics: one request per signal, bounded by its own timeout (prices.clients).
JUPITER_TOKENS = Provider("jupiter_tokens", 60)
PROVIDERS = (JUPITER_PRICE, DEXSCREENER, HERMES, JUPITER_QUOTE, JUPITER_TOKENS)

MAX_RETRIES = 2
RETRY_BASE_SECONDS = 0.25
# The longest pause a call sits through before retrying. A tick runs every second or so; a
# provider asking for more than this gets a cooldown and the call fails at once.
RETRY_MAX_WAIT_SECONDS = 2.0
# x-ratelimit-reset is documented as a unix time; a small number can only be a delay.
_UNIX_TIME_FLOOR = 1_000_000_000
STATUS_SECONDS = 7 * 24 * 3600
# How old last_success_at may be in the status before a success writes it again: a write per
# request would double the cache traffic for a change no reader can see.
STATUS_SUCCESS_RESOLUTION = timedelta(seconds=1)
_ANSWER_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError, AttributeError)

_local = threading.local()


def new_session() -> requests.Session:
    # requests' default adapter retries nothing: retries are ours (below), so that every
    # attempt is budgeted and counted.
    return requests.Session()


def session() -> requests.Session:
    # requests.Session is not thread-safe: one per thread, which keeps its connections alive.
    current = getattr(_local, "session", None)
    if current is None:
        current = _local.session = new_session()
    return current


def timeout() -> float:
    return float(settings.HTTP_TIMEOUT_SECONDS)


def get(
    provider: Provider,
    url: str,
    *,
    parse: Callable[[requests.Response], T],
    params=None,
    headers: dict | None = None,
    retries: int = MAX_RETRIES,
    stream: bool = False,
    read_timeout: float | None = None,
    http: requests.Session | None = None,
) -> T:
    """GET url and return parse(response) for a 2xx answer; raise ExternalServiceError otherwise.

    parse reads a 2xx answer; any error it raises reading it counts as a malformed answer.
    read_timeout replaces HTTP_TIMEOUT_SECONDS for reads, and for the connection too when it is
    shorter: a caller that must have its answer within it must not wait longer to connect.
    """
    return _call(
        provider,
        "GET",
        url,
        parse=parse,
        params=params,
        headers=headers,
        retries=retries,
        stream=stream,
        read_timeout=read_timeout,
        http=http,
    )


def post(
    provider: Provider,
    url: str,
    *,
    json,
    parse: Callable[[requests.Response], T],
    headers: dict | None = None,
    retries: int = MAX_RETRIES,
    read_timeout: float | None = None,
) -> T:
    """POST a JSON body (a JSON-RPC call), with everything `get` does. Retried like a GET on
    429 and 5xx: only for requests that are safe to repeat (reads, or a transaction whose
    signature makes a second send the same transaction)."""
    return _call(
        provider,
        "POST",
        url,
        parse=parse,
        json=json,
        headers=headers,
        retries=retries,
        read_timeout=read_timeout,
    )


def _call(
    provider: Provider,
    method: str,
    url: str,
    *,
    parse,
    params=None,
    json=None,
    headers=None,
    retries: int,
    stream: bool = False,
    read_timeout: float | None = None,
    http: requests.Session | None = None,
):
    read = read_timeout or timeout()
    try:
        result, seen = _attempts(
            provider,
            http or session(),
            _Request(method, url, params, json, headers, stream),
            parse=parse,
            retries=retries,
            timeouts=(min(timeout(), read), read),
        )
    except ExternalServiceError as exc:
        _status_failure(provider, exc)
        raise
    _status_success(provider, seen)
    return result


class _Seen(NamedTuple):
    """The provider's status as the admission read it, for the status update after the call."""

    failures: int
    ok_at: datetime | None


class _Request(NamedTuple):
    method: str
    url: str
    params: object
    json: object
    headers: dict | None
    stream: bool


def _attempts(provider, http, request: _Request, *, parse, retries, timeouts):
    """(parse's result, the provider's status as the last admission read it)."""
    for attempt in range(retries + 1):
        seen = _admit(provider)
        response = _send(provider, http, request, timeouts)
        status = response.status_code
        if status != 429 and status < 500:
            return _read(provider, response, parse), seen
        _count(provider, "rate_limited" if status == 429 else "server_error")
        asked = _asked_wait(response)
        response.close()
        wait = asked if asked is not None else RETRY_BASE_SECONDS * 2**attempt
        if attempt == retries or wait > RETRY_MAX_WAIT_SECONDS:
            if asked is not None:
                _cooldown(provider, asked)
            raise ExternalServiceError(
                provider.name, f"HTTP {status} after {attempt + 1} attempt(s)", status=status
            )
        time.sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _send(provider, http, request: _Request, timeouts) -> requests.Response:
    started = time.perf_counter()
    try:
        response = http.request(
            request.method,
            request.url,
            params=request.params,
            json=request.json,
            headers=request.headers,
            timeout=timeouts,
            stream=request.stream,
        )
    except requests.Timeout as exc:
        _count(provider, "timeout")
        raise ExternalServiceError(provider.name, f"no answer within {timeouts[1]} s") from exc
    except requests.RequestException as exc:
        _count(provider, "connection_error")
        raise ExternalServiceError(
            provider.name, f"request failed: {exc.__class__.__name__}"
        ) from exc
    metrics.PROVIDER_LATENCY.labels(provider.name).observe(time.perf_counter() - started)
    return response


def _read(provider: Provider, response: requests.Response, parse: Callable):
    if not response.ok:
        _count(provider, "client_error")
        raise _error_answer(provider, response)
    try:
        result = parse(response)
    except ExternalServiceError:
        _count(provider, "malformed")
        raise
    except _ANSWER_ERRORS as exc:
        _count(provider, "malformed")
        raise ExternalServiceError(
            provider.name, f"unreadable answer: {exc.__class__.__name__}: {exc}"
        ) from exc
    _count(provider, "ok")
    return result


def _error_answer(provider: Provider, response: requests.Response) -> ExternalServiceError:
    """A 4xx with the provider's own words: Jupiter's {"error", "errorCode"} or Hermes' text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        words = f"{body.get('errorCode') or ''} {body['error']}".strip()
    else:
        body, words = None, response.text[:200]
    return ExternalServiceError(
        provider.name,
        f"HTTP {response.status_code} {words}".strip(),
        status=response.status_code,
        body=body,
    )


def _asked_wait(response: requests.Response) -> float | None:
    """Seconds the provider asked us to wait (Retry-After, else x-ratelimit-reset), if any."""
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            moment = email.utils.parsedate_to_datetime(retry_after)
            if moment is not None:
                return max(0.0, (moment - datetime.now(UTC)).total_seconds())
    reset = response.headers.get("x-ratelimit-reset")
    if reset:
        try:
            value = float(reset)
        except ValueError:
            return None
        return max(0.0, value - time.time()) if value > _UNIX_TIME_FLOOR else max(0.0, value)
    return None


def _count(provider: Provider, outcome: str) -> None:
    metrics.PROVIDER_REQUESTS.labels(provider.name, outcome).inc()


# Admission: cooldown and budget


_limiter_instance: SlidingWindowCounterRateLimiter | None = None
_limiter_lock = threading.Lock()


def _limiter() -> SlidingWindowCounterRateLimiter:
    """The process's limiter, made on first use: two made at once would count apart."""
    global _limiter_instance
    with _limiter_lock:
        if _limiter_instance is None:
            storage = (
                storage_from_string(settings.REDIS_URL, key_prefix="nexgent:limits")
                if settings.REDIS_URL
                else storage_from_string("memory://")
            )
            _limiter_instance = SlidingWindowCounterRateLimiter(storage)
        return _limiter_instance


def budgets_reset() -> None:
    """Forget every request counted so far, in every process sharing the storage (tests)."""
    _limiter().storage.reset()


def _key(provider: Provider, part: str) -> str:
    return f"prices:provider:{provider.name}:{part}"


def _admit(provider: Provider) -> _Seen:
    """Take one request from the budget, or raise (counted as throttled) without sending.

    The cooldown is checked first, so a call it refuses takes nothing from the budget; the
    limiter counts and checks in one atomic step, so concurrent callers cannot overshoot the
    budget together, and a request it refuses is not counted."""
    cooldown, failures, ok_at = (_key(provider, part) for part in ("cooldown", "failures", "ok_at"))
    values = cache.get_many([cooldown, failures, ok_at])
    until, now = values.get(cooldown), time.time()
    if until is not None and until > now:
        _throttled(provider, f"cooling down {until - now:.1f} s more, as the provider asked")
    if not _limiter().hit(provider.limit(), provider.name):
        _throttled(
            provider,
            f"request budget used up ({provider.budget()} per {provider.window_seconds} s)",
        )
    return _Seen(values.get(failures) or 0, values.get(ok_at))


def _throttled(provider: Provider, message: str) -> NoReturn:
    _count(provider, "throttled")
    raise ExternalServiceError(provider.name, message)


def _cooldown(provider: Provider, seconds: float) -> None:
    until = time.time() + seconds
    cache.set(_key(provider, "cooldown"), until, timeout=max(1, int(seconds) + 1))
    logger.warning("%s asked for a %.1f s pause; no request until then", provider.name, seconds)


# Status: what GET /api/v1/data-sources/status reports


def _status_success(provider: Provider, seen: _Seen) -> None:
    """`seen`: the status the call's admission read."""
    if seen.failures:
        logger.info("%s answering again after %s failed call(s)", provider.name, seen.failures)
    elif seen.ok_at is not None and (
        timedelta(0) <= datetime.now(UTC) - seen.ok_at < STATUS_SUCCESS_RESOLUTION
    ):
        return  # nothing a reader would see changes
    cache.set_many(
        {_key(provider, "ok_at"): datetime.now(UTC), _key(provider, "failures"): 0},
        timeout=STATUS_SECONDS,
    )


def _status_failure(provider: Provider, exc: ExternalServiceError) -> None:
    cache.set(
        _key(provider, "error"),
        {"at": datetime.now(UTC), "message": str(exc)},
        timeout=STATUS_SECONDS,
    )
    failures_key = _key(provider, "failures")
    if cache.add(failures_key, 1, timeout=STATUS_SECONDS):
        failures = 1
    else:
        try:
            failures = cache.incr(failures_key)
        except ValueError:  # expired between the two calls
            failures = 1
            cache.set(failures_key, 1, timeout=STATUS_SECONDS)
    # Once per run of failures: an outage must not write a warning every tick.
    log = logger.warning if failures == 1 else logger.debug
    log("%s failing: %s", provider.name, exc)
    # The count is one atomic increment, so exactly one call sees the source go down.
    if failures == FAILURES_THAT_MEAN_DOWN:
        events.data_source_stale.send(
            sender=None,
            source=provider.name,
            problem=redact(f"{provider.name} is down: {failures} failed calls in a row ({exc})"),
        )


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    name: str
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    requests_in_window: int
    budget: int | None
    window_seconds: int
    cooldown_until: datetime | None


def status(provider: Provider) -> ProviderStatus:
    parts = {name: _key(provider, name) for name in ("ok_at", "error", "failures", "cooldown")}
    values = cache.get_many(list(parts.values()))
    error = values.get(parts["error"]) or {}
    until = values.get(parts["cooldown"])
    limit = provider.limit()
    window = _limiter().get_window_stats(limit, provider.name)
    return ProviderStatus(
        name=provider.name,
        last_success_at=values.get(parts["ok_at"]),
        last_error_at=error.get("at"),
        last_error=error.get("message"),
        consecutive_failures=values.get(parts["failures"]) or 0,
        requests_in_window=limit.amount - window.remaining,
        budget=provider.budget(),
        window_seconds=provider.window_seconds,
        cooldown_until=(
            datetime.fromtimestamp(until, tz=UTC) if until and until > time.time() else None
        ),
    )
