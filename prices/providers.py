"""How every market-data request goes out.

- A request budget per provider, shared by every process through the cache: a sliding-window
  counter (two fixed windows, the older one weighted by how much of it still overlaps). Unlike
  a token bucket it never lets through twice the limit at a window boundary, so we stay under
  the provider's own sliding-window limit instead of learning about it from 429s.
- A timeout on every request (HTTP_TIMEOUT_SECONDS).
- Bounded retries on 429 and 5xx, waiting as long as Retry-After or x-ratelimit-reset asks.
  A provider that asks for a longer pause than a tick can afford is left alone until then (a
  cooldown) instead of being asked again.
- Each attempt counted in metrics by provider and outcome, with its latency; each call's result
  kept in the cache as the provider's status (GET /api/v1/data-sources/status).

On the request path this costs one cache round trip on Redis (counting the request and reading
the provider's state in one pipeline), none for swap quotes, which have no budget of ours and
are admitted on each process's view of the shared state (`_View`); a success writes the status
only when it changes what a reader sees (a run of failures ended) or last_success_at is
STATUS_SUCCESS_RESOLUTION old.
"""

import contextlib
import email.utils
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple, TypeVar
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from requests.cookies import RequestsCookieJar
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict

from nexgent import metrics
from nexgent.http import ExternalServiceError

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Provider:
    name: str  # the metric label and the status key
    window_seconds: int
    budget_setting: str | None = None  # the setting holding requests allowed per window

    def budget(self) -> int | None:
        return getattr(settings, self.budget_setting) if self.budget_setting else None


# Windows are the providers' own: Jupiter and DexScreener count per minute, Hermes per 10 s.
JUPITER_PRICE = Provider("jupiter_price", 60, "JUPITER_PRICE_REQUESTS_PER_MINUTE")
DEXSCREENER = Provider("dexscreener", 60, "DEXSCREENER_REQUESTS_PER_MINUTE")
HERMES = Provider("hermes", 10, "HERMES_REQUESTS_PER_10_SECONDS")
# Quotes are on the trade path: a buy or an exit is never refused by our own budget, only
# counted; Jupiter's 429s still reach the retry logic below.
JUPITER_QUOTE = Provider("jupiter_quote", 60)
PROVIDERS = (JUPITER_PRICE, DEXSCREENER, HERMES, JUPITER_QUOTE)

MAX_RETRIES = 2
RETRY_BASE_SECONDS = 0.25
# The longest pause a call sits through before retrying. A tick runs every second or so; a
# provider asking for more than this gets a cooldown and the call fails at once.
RETRY_MAX_WAIT_SECONDS = 2.0
# x-ratelimit-reset is documented as a unix time; a small number can only be a delay.
_UNIX_TIME_FLOOR = 1_000_000_000
STATUS_SECONDS = 7 * 24 * 3600
# How old last_success_at may be in the status before a success writes it again.
STATUS_SUCCESS_RESOLUTION = timedelta(seconds=1)
_ANSWER_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError, AttributeError)

_local = threading.local()


class _Session(requests.Session):
    """Reads the environment's proxy settings (HTTP(S)_PROXY, NO_PROXY) and CA bundle
    (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) once per origin, when it is first asked for. requests
    scans the whole environment for them on every request, a fifth of a quote's client time."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple, dict] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if proxies:  # the caller's own proxies (or no_proxy) take part: not cached
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        # The proxy and its bypass depend only on the scheme, host and port.
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        merged = self._environment.get(key)
        if merged is None:
            merged = super().merge_environment_settings(url, {}, stream, verify, cert)
            self._environment[key] = merged
        # A copy: requests may add to the proxies it is given.
        return {**merged, "proxies": dict(merged["proxies"])}


def new_session() -> requests.Session:
    # requests' own default adapter retries nothing and lets a read timeout surface as one.
    # Retries are ours (below), so that every attempt is budgeted and counted.
    return _Session()


def session() -> requests.Session:
    # requests.Session is not documented as thread-safe: one per thread.
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
    """
    try:
        result, seen = _attempts(
            provider,
            url,
            parse=parse,
            params=params,
            headers=headers,
            retries=retries,
            stream=stream,
            timeouts=(timeout(), read_timeout or timeout()),
            http=http or session(),
        )
    except ExternalServiceError as exc:
        _status_failure(provider, exc)
        raise
    _status_success(provider, seen)
    return result


def _attempts(provider, url, *, parse, params, headers, retries, stream, timeouts, http):
    """(parse's result, the provider's status as the last admission read it)."""
    for attempt in range(retries + 1):
        seen = _admit(provider)
        response = _send(provider, http, url, params, headers, stream, timeouts)
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


def _send(provider, http, url, params, headers, stream, timeouts) -> requests.Response:
    started = time.perf_counter()
    try:
        response = _get(http, url, params, headers, stream, timeouts)
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


def _get(http: requests.Session, url, params, headers, stream, timeouts) -> requests.Response:
    """What http.get(url, params=..., headers=..., timeout=..., stream=...) sends and returns,
    built in under half the CPU (a fifth of a request's client time saved): without the work of
    requests.Session.request that these calls have no use for, merging the session's cookie
    jar into every request and looking up ~/.netrc, and without requests' protocol checks on
    headers and params. The providers' APIs are stateless and take their keys in headers
    (x-api-key, a bearer token), so no cookie and no .netrc credential is sent.

    Everything else is requests' own: the session's default headers (User-Agent, Accept,
    Accept-Encoding, Connection) under the caller's, the same URL encoding, the session's
    hooks, redirects followed, proxies and CA bundle as the session resolves them."""
    query = _query(params)
    base = _plain_get_base(http, url, query)
    if base is not None:
        return _send_plain(http, _prepared_plain(http, base, query, headers), stream, timeouts)
    prepared = requests.PreparedRequest()
    prepared.prepare(
        method="GET",
        url=url,
        headers=_headers(http, headers),
        params=query,
        auth=http.auth,
        hooks=http.hooks,
    )
    environment = http.merge_environment_settings(prepared.url, {}, stream, None, None)
    return http.send(prepared, timeout=timeouts, allow_redirects=True, **environment)


# The plain GET (every request of the engine's own clients): a URL with no query, fragment or
# credentials of its own, params encoded to a string by _query, no auth and no hooks on the
# session. It is prepared and sent by requests' own parts, without the two layers whose work
# is for other requests: PreparedRequest.prepare (the URL parsed, IDNA-checked and requoted
# again on every call; the body, auth and cookie steps that a plain GET leaves empty) and
# Session.send (hooks, the session's cookie jar, timing), a tenth of a quote's client CPU.


def _plain_get_base(http: requests.Session, url: str, query) -> str | None:
    """The URL's base as requests prepares it, if this GET is plain; else None."""
    plain = (
        (query is None or isinstance(query, str))
        and type(http) is _Session
        and http.auth is None
        and not any(http.hooks.values())
    )
    return _plain_base(url) if plain else None


def _prepared_plain(
    http: requests.Session, base: str, query: str | None, headers
) -> requests.PreparedRequest:
    """The request prepare() would build: the URL as it requotes it (the base's own, cached;
    urlencode's output is left as it is by requoting), the headers through its own checks."""
    prepared = requests.PreparedRequest()
    prepared.method = "GET"
    prepared.url = f"{base}?{query}" if query else base
    prepared.prepare_headers(_headers(http, headers))
    prepared.body = None
    prepared.hooks = default_hooks()
    # What prepare_cookies sets for no cookies: a redirect carries the cookies its answer set.
    prepared._cookies = RequestsCookieJar()
    return prepared


@lru_cache(maxsize=256)
def _plain_base(url: str) -> str | None:
    """The URL as requests prepares it with no params, or None when it is not plain."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or "@" in parts.netloc or not url.isascii():
        return None
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return prepared.url


def _send_plain(http: requests.Session, prepared, stream: bool, timeouts) -> requests.Response:
    """Session.send's steps that a plain GET needs: the adapter's send, with the proxies and CA
    bundle the session resolves for the origin, redirects followed by the session, the body
    read unless streamed."""
    environment = http.merge_environment_settings(prepared.url, {}, stream, None, None)
    response = http.get_adapter(prepared.url).send(prepared, timeout=timeouts, **environment)
    if response.is_redirect:
        history = [response]
        history += http.resolve_redirects(response, prepared, timeout=timeouts, **environment)
        response = history.pop()
        response.history = history
    if not stream:
        response.content  # noqa: B018 - reads the body, as Session.send does
    return response


def _headers(http: requests.Session, headers: dict | None):
    """The session's headers under the caller's, a header the caller sets to None left out: as
    requests merges them, without the protocol checks that make its merge five times slower."""
    if not headers:
        return http.headers
    merged = CaseInsensitiveDict(http.headers)
    merged.update(headers)
    for name in [name for name, value in merged.items() if value is None]:
        del merged[name]
    return merged


def _query(params):
    """params as requests would encode them into the URL. A dict of strings, what every client
    here sends, is encoded here: requests encodes it with the same urlencode, but only after
    runtime protocol checks that cost more than the encoding."""
    if isinstance(params, dict) and all(
        isinstance(name, str) and isinstance(value, str) for name, value in params.items()
    ):
        return urlencode(params)
    return params


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


# Budget and cooldown (cache keys shared by every process)


def _key(provider: Provider, part: str) -> str:
    return f"prices:provider:{provider.name}:{part}"


def _window_keys(provider: Provider, now: float) -> tuple[str, str, float]:
    """(current window key, previous window key, share of the previous window still counted)."""
    index, into = divmod(now, provider.window_seconds)
    return (
        _key(provider, f"window:{int(index)}"),
        _key(provider, f"window:{int(index) - 1}"),
        1 - into / provider.window_seconds,
    )


def requests_in_window(provider: Provider, counts: dict | None = None) -> int:
    """The sliding-window estimate of requests sent in the last window_seconds."""
    current, previous, overlap = _window_keys(provider, time.time())
    if counts is None:
        counts = cache.get_many([current, previous])
    return _estimate(counts.get(current, 0), counts.get(previous, 0), overlap)


def _estimate(current: int, previous: int, overlap: float) -> int:
    return int(previous * overlap + current + 0.5)


class _Seen(NamedTuple):
    """The provider's status as an admission read it, for the status update after the call."""

    failures: int
    ok_at: datetime | None


def _admit(provider: Provider) -> _Seen:
    """Take one request from the budget, or raise (counted as throttled) without sending.

    The request is counted first and the count taken back if it is refused: counting and
    reading are then one round trip, and concurrent callers can never overshoot the budget
    together, as they could by each reading the count before counting. A provider without a
    budget of ours is admitted on this process's view of it (`_View`)."""
    if provider.budget_setting is None:
        return _view(provider).admit()
    now = time.time()
    current, previous, overlap = _window_keys(provider, now)
    cooldown, failures, ok_at = _state_keys(provider)
    counts, values = _count_and_read(
        {current: 1}, [previous, cooldown, failures, ok_at], timeout=2 * provider.window_seconds
    )
    _refuse_in_cooldown(provider, values.get(cooldown), now, lambda: _uncount(current))
    limit = provider.budget()
    if (
        limit is not None
        and _estimate(counts[current] - 1, values.get(previous, 0), overlap) >= limit
    ):
        _uncount(current)
        _count(provider, "throttled")
        raise ExternalServiceError(
            provider.name,
            f"request budget used up ({limit} per {provider.window_seconds} s)",
        )
    return _Seen(values.get(failures) or 0, values.get(ok_at))


def _state_keys(provider: Provider) -> tuple[str, str, str]:
    """(cooldown, failures, ok_at): the provider's state an admission reads."""
    return _key(provider, "cooldown"), _key(provider, "failures"), _key(provider, "ok_at")


def _refuse_in_cooldown(provider: Provider, until, now: float, uncount: Callable) -> None:
    if until is not None and until > now:
        uncount()
        _count(provider, "throttled")
        raise ExternalServiceError(
            provider.name, f"cooling down {until - now:.1f} s more, as the provider asked"
        )


# A provider without a budget of ours (quotes) is admitted by each process on its own view of
# the shared state, refreshed at most VIEW_SECONDS old: the round trip that counted each request
# and read the cooldown was a fifth of a quote's client CPU on the trade path. The price: another
# process's cooldown is seen up to VIEW_SECONDS late (a few requests more that the provider
# answers with 429, which the retries handle), and the shared request count trails this
# process's by as much. This process's own writes (cooldown, failures, a success) are seen at
# once: each makes the next admission read the shared state again.
VIEW_SECONDS = 0.25


class _View:
    """This process's admission of one unbudgeted provider: its requests counted here and
    added to the shared counters later, the shared state read at most VIEW_SECONDS old."""

    def __init__(self, provider: Provider):
        self.provider = provider
        self._lock = threading.Lock()
        self._unsent: dict[str, int] = {}  # window key -> this process's requests not yet added
        self._values: dict = {}
        self._read_at = -math.inf  # time.monotonic() of the last read
        self._flush_timer: threading.Timer | None = None

    def admit(self) -> _Seen:
        now = time.time()
        current, _, _ = _window_keys(self.provider, now)
        with self._lock:
            self._unsent[current] = self._unsent.get(current, 0) + 1
            fresh = time.monotonic() - self._read_at < VIEW_SECONDS
            values = self._values
            if fresh:
                self._flush_later()
        if not fresh:
            values = self.sync()
        cooldown, failures, ok_at = _state_keys(self.provider)
        _refuse_in_cooldown(self.provider, values.get(cooldown), now, lambda: self._take(current))
        return _Seen(values.get(failures) or 0, values.get(ok_at))

    def sync(self) -> dict:
        """Add this process's unsent counts to the shared ones and read the shared state."""
        with self._lock:
            unsent, self._unsent = self._unsent, {}
        try:
            _, values = _count_and_read(
                unsent, list(_state_keys(self.provider)), timeout=2 * self.provider.window_seconds
            )
        except Exception:
            with self._lock:
                for key, count in unsent.items():
                    self._unsent[key] = self._unsent.get(key, 0) + count
            raise
        with self._lock:
            self._values, self._read_at = values, time.monotonic()
        return values

    def forget(self) -> None:
        """This process changed the shared state: the next admission reads it again."""
        with self._lock:
            self._read_at = -math.inf

    def _take(self, window: str) -> None:
        """Take back a refused request's count: from the unsent ones while there are any (the
        counts are alike, so the total is right whichever one goes), else from the shared."""
        with self._lock:
            if self._unsent.get(window):
                self._unsent[window] -= 1
                return
        _uncount(window)

    def _flush_later(self) -> None:
        """Counts left unsent when requests stop are added VIEW_SECONDS later, by a timer."""
        if self._flush_timer is not None and self._flush_timer.is_alive():
            return
        self._flush_timer = threading.Timer(VIEW_SECONDS, self._flush)
        self._flush_timer.daemon = True
        self._flush_timer.start()

    def close(self) -> None:
        """Drops the unsent counts and the pending flush."""
        with self._lock:
            self._unsent.clear()
            if self._flush_timer is not None:
                self._flush_timer.cancel()

    def _flush(self) -> None:
        try:
            self.sync()
        except Exception:
            logger.exception("could not add %s's request counts", self.provider.name)


_views: dict[str, _View] = {}
_views_pid: int | None = None
_views_lock = threading.Lock()


def _view(provider: Provider) -> _View:
    global _views_pid
    with _views_lock:
        if _views_pid != os.getpid():  # a forked child starts with no view and no timer
            _views.clear()
            _views_pid = os.getpid()
        view = _views.get(provider.name)
        if view is None:
            view = _views[provider.name] = _View(provider)
        return view


def forget_views() -> None:
    """Starts this process's views over, for when the shared cache was emptied behind their
    back (between tests): nothing read or counted before is kept."""
    with _views_lock:
        for view in _views.values():
            view.close()
        _views.clear()


def _changed(provider: Provider) -> None:
    if provider.budget_setting is None:
        _view(provider).forget()


def _count_and_read(
    counts: dict[str, int], keys: list[str], *, timeout: int
) -> tuple[dict[str, int], dict]:
    """Add `counts` to their counters (each created with `timeout` when missing) and read
    `keys`: (each counter's new value, the values found). One round trip on Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        added = {key: _increment(key, by, timeout=timeout) for key, by in counts.items()}
        return added, cache.get_many(keys)
    # The cache API has no batch of different operations, so this speaks Redis with
    # django-redis' own key and value encoding: the values read back through cache.get.
    client = backend.client
    raw_keys = {client.make_key(key): key for key in keys}
    pipeline = client.get_client(write=True).pipeline(transaction=False)
    for key, by in counts.items():
        raw_counter = client.make_key(key)
        pipeline.set(raw_counter, 0, ex=timeout, nx=True)  # as cache.add: only a new counter
        pipeline.incrby(raw_counter, by)
    pipeline.mget(list(raw_keys))
    *answers, found = pipeline.execute()
    added = dict(zip(counts, answers[1::2], strict=True))
    values = {
        raw_keys[raw]: client.decode(value)
        for raw, value in zip(raw_keys, found, strict=True)
        if value is not None
    }
    return added, values


def _increment(key: str, by: int = 1, *, timeout: int) -> int:
    """Add `by` to a window's counter, creating it with `timeout` when missing; return the new
    count. One cache call unless the counter is new."""
    try:
        return cache.incr(key, by)
    except ValueError:  # no counter yet
        pass
    if cache.add(key, by, timeout=timeout):
        return by
    try:
        return cache.incr(key, by)
    except ValueError:  # expired between the two calls
        cache.add(key, by, timeout=timeout)
        return by


def _uncount(key: str) -> None:
    """Take back a refused request's count."""
    # A counter that expired meanwhile has nothing to take back.
    with contextlib.suppress(ValueError):
        cache.decr(key)


def _cooldown(provider: Provider, seconds: float) -> None:
    until = time.time() + seconds
    cache.set(_key(provider, "cooldown"), until, timeout=max(1, int(seconds) + 1))
    _changed(provider)
    logger.warning("%s asked for a %.1f s pause; no request until then", provider.name, seconds)


# Status: what GET /api/v1/data-sources/status reports


def _status_success(provider: Provider, seen: _Seen) -> None:
    """`seen`: the status the call's admission read."""
    if seen.failures:
        logger.info("%s answering again after %s failed call(s)", provider.name, seen.failures)
    elif seen.ok_at is not None and (
        timedelta(0) <= datetime.now(UTC) - seen.ok_at < STATUS_SUCCESS_RESOLUTION
    ):
        # Nothing a reader would see changes: the write is saved, one per request otherwise.
        return
    cache.set_many(
        {_key(provider, "ok_at"): datetime.now(UTC), _key(provider, "failures"): 0},
        timeout=STATUS_SECONDS,
    )
    _changed(provider)


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
        except ValueError:
            failures = 1
            cache.set(failures_key, 1, timeout=STATUS_SECONDS)
    _changed(provider)
    # Once per run of failures: an outage must not write a warning every tick.
    log = logger.warning if failures == 1 else logger.debug
    log("%s failing: %s", provider.name, exc)


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
    if provider.budget_setting is None:
        _view(provider).sync()  # this process's own requests, counted before they are read
    current, previous, _ = _window_keys(provider, time.time())
    parts = {name: _key(provider, name) for name in ("ok_at", "error", "failures", "cooldown")}
    values = cache.get_many([current, previous, *parts.values()])
    error = values.get(parts["error"]) or {}
    until = values.get(parts["cooldown"])
    return ProviderStatus(
        name=provider.name,
        last_success_at=values.get(parts["ok_at"]),
        last_error_at=error.get("at"),
        last_error=error.get("message"),
        consecutive_failures=values.get(parts["failures"]) or 0,
        requests_in_window=requests_in_window(provider, values),
        budget=provider.budget(),
        window_seconds=provider.window_seconds,
        cooldown_until=(
            datetime.fromtimestamp(until, tz=UTC) if until and until > time.time() else None
        ),
    )
