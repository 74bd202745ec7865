from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    verbose_name = "Trading"

    def ready(self):
        # Registers this app's readiness checks (nexgent.health).
        from trading import health  # noqa: F401
