"""Market-data gauges, computed at scrape time from the shared cache, so every process reports
the same values (registered on prometheus_client's default registry when the app is ready)."""

from prometheus_client.core import GaugeMetricFamily

from nexgent.metrics import ScrapeTimeCollector
from prices import selectors


class MarketDataCollector(ScrapeTimeCollector):
    """The gauges: SOL/USD staleness, the last tick, each provider's failures and window."""

    what = "market-data gauges"

    @staticmethod
    def _families():
        return (
            GaugeMetricFamily(
                "nexgent_sol_usd_stale", "1 when SOL/USD is unknown or older than allowed."
            ),
            GaugeMetricFamily(
                "nexgent_sol_usd_age_seconds", "Age of the latest SOL/USD (absent when unknown)."
            ),
            GaugeMetricFamily(
                "nexgent_price_stale_tokens",
                "Tracked tokens without a fresh price at the last tick.",
            ),
            GaugeMetricFamily(
                "nexgent_price_poll_last_tick_timestamp_seconds",
                "When the last price tick finished (absent until one has).",
            ),
            GaugeMetricFamily(
                "nexgent_price_provider_consecutive_failures",
                "Calls to a provider that failed in a row.",
                labels=["provider"],
            ),
            GaugeMetricFamily(
                "nexgent_price_provider_window_requests",
                "Requests to a provider within its current budget window.",
                labels=["provider"],
            ),
        )

    @staticmethod
    def _fill(stale, age, stale_tokens, last_tick, failures, window) -> None:
        sol_usd = selectors.sol_usd_status()
        stale.add_metric([], 1 if sol_usd.is_stale else 0)
        if sol_usd.age_seconds is not None:
            age.add_metric([], sol_usd.age_seconds)
        tick = selectors.last_tick()
        if tick is not None:
            stale_tokens.add_metric([], tick.stale_tokens)
            last_tick.add_metric([], tick.finished_at.timestamp())
        for status in selectors.provider_statuses():
            failures.add_metric([status.name], status.consecutive_failures)
            window.add_metric([status.name], status.requests_in_window)
