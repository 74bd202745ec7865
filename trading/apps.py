from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    verbose_name = "Trading"

    def ready(self):
        # Registers this app's readiness checks (nexgent.health).
        from trading import health  # noqa: F401
        from trading.live import live_swaps_unresolved
        from trading.reconcile_services import BEFORE_COMPARE

        # Reconcile resolves pending live swaps first, and takes no deposit while one is open.
        if live_swaps_unresolved not in BEFORE_COMPARE:
            BEFORE_COMPARE.append(live_swaps_unresolved)
