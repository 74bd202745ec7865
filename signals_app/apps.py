from django.apps import AppConfig


class SignalsAppConfig(AppConfig):
    name = "signals_app"
    verbose_name = "Signals"

    def ready(self):
        # Registers this app's readiness checks (nexgent.health).
        from signals_app import health  # noqa: F401
