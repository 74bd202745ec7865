"""No secret in any log: credentials that travel in a URL's query (a WebSocket's `?token=`, an
API key) are redacted from the web server's log lines before anything writes them."""

import logging
import re

# Query parameters that carry credentials, and what replaces their values.
_SECRET_PARAMETER = re.compile(
    r"(?i)([?&](?:token|access|refresh|api_key|apikey|key|password|secret)=)[^&\s\"']*"
)
REDACTED = "[redacted]"
# The loggers of the ASGI server (uvicorn): its access lines carry every path with its query.
WEB_SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return _SECRET_PARAMETER.sub(lambda match: match.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Redacts credentials from a record's message and its string arguments, in place. The
    arguments stay a tuple of the same length: uvicorn's access formatter unpacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def redact_web_server_logs() -> None:
    """Attach the filter to the web server's loggers (once: a second call adds nothing)."""
    for name in WEB_SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
            logger.addFilter(RedactSecrets())
