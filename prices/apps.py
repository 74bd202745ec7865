from django.apps import AppConfig


class PricesConfig(AppConfig):
    name = "prices"
    verbose_name = "Prices"

    def ready(self):
        from prometheus_client import REGISTRY

        from prices.metrics import MarketDataCollector

        # Once per process: a second registration of the same names would be refused.
        REGISTRY.register(MarketDataCollector())
        # Registers this app's readiness checks (nexgent.health).
        from prices import health  # noqa: F401
