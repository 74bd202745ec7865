"""Reconcile gauges, computed at scrape time from the wallets' latest reconcile rows, so every
process reports the same values (registered on prometheus_client's default registry when the
app is ready). Gauges are floats: the exact drift is in the API and the admin."""

from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client.core import GaugeMetricFamily

from nexgent import money
from nexgent.metrics import ScrapeTimeCollector
from wallets.models import WalletReconcile


class ReconcileCollector(ScrapeTimeCollector):
    what = "reconcile gauges"

    @staticmethod
    def _families():
        return (
            GaugeMetricFamily(
                "nexgent_wallet_drift_sol",
                "A live wallet's SOL on chain minus its ledger's, at its last reconcile.",
                labels=["wallet"],
            ),
            GaugeMetricFamily(
                "nexgent_wallet_drift_tokens",
                "Tokens whose amount on chain differs from the ledger's, at the last reconcile.",
                labels=["wallet"],
            ),
            GaugeMetricFamily(
                "nexgent_wallet_reconcile_age_seconds",
                "Time since a live wallet's chain was last read successfully.",
                labels=["wallet"],
            ),
            GaugeMetricFamily(
                "nexgent_wallet_reconcile_failing",
                "1 when a live wallet's last reconcile attempt failed.",
                labels=["wallet"],
            ),
        )

    @staticmethod
    def _fill(drift_sol, drift_tokens, age, failing) -> None:
        now = datetime.now(UTC)
        for result in WalletReconcile.objects.select_related("wallet").order_by("pk"):
            label = [result.wallet.address]
            failing.add_metric(label, 1 if result.error else 0)
            if result.succeeded_at is None:
                continue
            age.add_metric(label, (now - result.succeeded_at).total_seconds())
            drifts = {line["token_address"]: Decimal(line["drift"]) for line in result.balances}
            drift_sol.add_metric(label, float(drifts.pop(money.WSOL_MINT, Decimal(0))))
            drift_tokens.add_metric(label, sum(1 for drift in drifts.values() if drift))
