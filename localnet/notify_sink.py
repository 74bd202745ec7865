"""A web hook that notifications are sent to: `POST /notify-sink/<name>` keeps each JSON body
it receives under `name`, and `GET /notify-sink/<name>` lists them. Apprise's `json://` URL
posts there, so the engine's notifications are tested over real HTTP, as a Discord or Slack
hook would receive them. A sink can be told to fail (`fail(name, status)`), as a service that
refuses a message does."""

import json
import threading
from collections import defaultdict

from localnet.answers import Request, Response, json_response, text_response


class NotifySink:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: defaultdict[str, list] = defaultdict(list)
        self._failing: dict[str, int] = {}

    def received(self, name: str) -> list:
        with self._lock:
            return list(self._received[name])

    def fail(self, name: str, status: int | None) -> None:
        """Answer every message to `name` with `status` (None: accept them again)."""
        with self._lock:
            if status is None:
                self._failing.pop(name, None)
            else:
                self._failing[name] = status

    def accept(self, name: str, body: bytes) -> Response:
        try:
            message = json.loads(body or b"null")
        except ValueError:
            return text_response("Bad Request: not JSON", 400)
        with self._lock:
            status = self._failing.get(name)
            if status is not None:
                return text_response("refused", status)
            self._received[name].append(message)
        return json_response({"ok": True})


def receive(market, request: Request) -> Response:
    return market.notify_sink.accept(request.args[0], request.body)


def listing(market, request: Request) -> Response:
    return json_response(market.notify_sink.received(request.args[0]))
