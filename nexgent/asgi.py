import os
import warnings

from django.core.asgi import get_asgi_application

from nexgent.logs import redact_web_server_logs

# WhiteNoise serves static files with a sync iterator; under ASGI Django says so on every file.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexgent.settings")
django_asgi_app = get_asgi_application()
# The server logs every path with its query, WebSocket credentials (?token=) included.
redact_web_server_logs()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from trading.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
