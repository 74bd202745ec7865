"""No secret in any log, in any process: credentials that travel in a URL's query (a
WebSocket's `?token=`, an RPC provider's `?api-key=`), in a URL's user info
(`redis://:password@host`), as a bearer token or as one of the engine's API keys are redacted
from every line before it is written: on the project's console handler (the web, worker and beat
processes all log through it), on Celery's own handlers and on the web server's loggers."""

import logging
import re

REDACTED = "[redacted]"
# Each pattern keeps its first group (what names the secret) and replaces the rest.
_SECRETS = (
    # Query parameters that carry credentials.
    re.compile(
        r"(?i)([?&](?:token|access|refresh|api_key|api-key|apikey|key|password|secret)=)"
        r"[^&\s\"']*"
    ),
    # The password in a URL's user info.
    re.compile(r"(://[^:/@\s]*:)[^@\s]+(?=@)"),
    # A bearer token, wherever it is quoted.
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # The engine's own API keys (agents.authentication.KEY_PREFIX).
    re.compile(r"(nxg_)[A-Za-z0-9_-]+"),
)
# The loggers of the ASGI server (uvicorn): its access lines carry every path with its query.
WEB_SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    for pattern in _SECRETS:
        text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
    return text


class RedactSecrets(logging.Filter):
    """Redacts credentials from a record's message and its arguments, in place, and from the
    text of its exception (an HTTP error names the URL it failed on). The arguments stay a tuple
    of the same length: uvicorn's access formatter unpacks them; an argument that is not a
    string (an exception, say) is redacted as the text it would print."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted_argument(arg) for arg in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _redacted_argument(argument):
    if isinstance(argument, str | int | float) or argument is None:
        return redact(argument) if isinstance(argument, str) else argument
    text = str(argument)
    redacted = redact(text)
    return argument if redacted == text else redacted


def redact_handlers(logger: logging.Logger) -> None:
    """Put the filter on each of the logger's handlers (once each)."""
    for handler in logger.handlers:
        if not any(isinstance(existing, RedactSecrets) for existing in handler.filters):
            handler.addFilter(RedactSecrets())


def redact_web_server_logs() -> None:
    """Attach the filter to the web server's loggers (once: a second call adds nothing)."""
    for name in WEB_SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
            logger.addFilter(RedactSecrets())
