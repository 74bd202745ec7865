"""`manage.py price_stream`: keep SOL/USD fresh from the Pyth Hermes stream until stopped.

Run one per deployment (Procfile `pricestream`). Without it the price tick fetches SOL/USD over
REST itself; with it ticks use the streamed price and make no Hermes request.
"""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand
from prometheus_client import start_http_server

from prices.hermes_stream import HermesStream


class Command(BaseCommand):
    help = "Keep the cached SOL/USD fresh from the Pyth Hermes SSE stream (REST fallback)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=None,
            help="serve this process's Prometheus metrics (reconnects, events) on this port",
        )

    def handle(self, *args, metrics_port, **options):
        if metrics_port is not None:
            start_http_server(metrics_port)
        stream = HermesStream()
        # SIGTERM (a process manager stopping us) ends the stream like Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda signum, frame: stream.stop())
        mode = "SSE stream" if settings.HERMES_SSE_ENABLED else "REST polling (SSE disabled)"
        self.stdout.write(f"SOL/USD from {settings.HERMES_BASE_URL} by {mode}; Ctrl-C stops")
        self.stdout.flush()
        try:
            stream.run()
        except KeyboardInterrupt:
            stream.stop()
        self.stdout.write("price stream stopped")
