"""The engine's own Prometheus metrics, on prometheus_client's default registry (which
django-prometheus serves at /metrics).

Counters and histograms count what happens in the process that does it: a Celery worker's
ticks are counted in that worker, the price_stream command's reconnects in that command (it can
serve its own /metrics, see its --metrics-port). State that matters wherever it is scraped (is
SOL/USD stale, how many tracked tokens have no fresh price, how a provider is doing) lives in
the shared cache, so those gauges are read from the cache at scrape time (prices.metrics) and
every process reports the same values.
"""

import logging

from prometheus_client import Counter, Histogram

# One sample per attempt sent to (or refused before) a provider. Outcomes: ok, rate_limited
# (429), server_error (5xx), client_error (other 4xx), timeout, connection_error, malformed
# (an answer we could not read), throttled (refused by our own budget or a cooldown the
# provider asked for; nothing was sent).
PROVIDER_REQUESTS = Counter(
    "nexgent_price_provider_requests",
    "Requests to market-data providers, by provider and outcome.",
    ["provider", "outcome"],
)
PROVIDER_LATENCY = Histogram(
    "nexgent_price_provider_request_seconds",
    "Time from sending a request to a provider until its answer's headers arrived.",
    ["provider"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

PRICE_POLL_TICKS = Counter(
    "nexgent_price_poll_ticks",
    "Price ticks run, by outcome: idle (nothing tracked), priced, unpriced (no fresh price).",
    ["outcome"],
)
PRICE_POLL_SKIPPED = Counter(
    "nexgent_price_poll_skipped",
    "Price ticks skipped because the previous tick was still running.",
)
PRICE_POLL_SECONDS = Histogram(
    "nexgent_price_poll_seconds",
    "Duration of one price tick (fetch, evaluate, dispatch, record).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PRICE_HISTORY_SAMPLES = Counter(
    "nexgent_price_history_samples",
    "Price samples written to the price history.",
)

HERMES_STREAM_EVENTS = Counter(
    "nexgent_hermes_stream_events",
    "Server-sent events read from the Hermes stream, by kind: price, keepalive, error, malformed.",
    ["kind"],
)
HERMES_STREAM_RECONNECTS = Counter(
    "nexgent_hermes_stream_reconnects",
    "Hermes stream reconnections, by reason: dropped, stale, closed, error.",
    ["reason"],
)


class ScrapeTimeCollector:
    """Gauges computed when Prometheus scrapes, from state every process shares (the cache, the
    database), so every process reports the same values. A subclass names its gauge families
    (`_families`, reading nothing, so registering touches no store) and fills them (`_fill`);
    `what` names them in the log when the store is down."""

    what = "gauges"

    def describe(self):
        return self._families()

    def collect(self):
        families = self._families()
        try:
            self._fill(*families)
        except Exception:
            # A scrape must answer even when the store is down; the gauges are then absent.
            logging.getLogger(type(self).__module__).exception("%s unavailable", self.what)
            return []
        return families

    @staticmethod
    def _families():
        raise NotImplementedError

    @staticmethod
    def _fill(*families) -> None:
        raise NotImplementedError
