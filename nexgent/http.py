"""One HTTP session factory for every external service: timeouts, bounded retries with
backoff on 429/5xx (honouring Retry-After), and JSON numbers parsed as Decimal."""

from decimal import Decimal

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


class ExternalServiceError(Exception):
    """An external service failed or answered something unusable."""

    def __init__(self, service: str, message: str, *, status: int | None = None, body=None):
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status
        self.body = body


def make_session(*, retries: int = 2, backoff: float = 0.2) -> requests.Session:
    retry = Retry(
        total=retries,
        connect=retries,
        read=0,  # a read timeout may mean the request was processed; never resend blindly
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=8, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def timeout() -> float:
    return float(settings.HTTP_TIMEOUT_SECONDS)


def decode_json(service: str, response: requests.Response):
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        raise ExternalServiceError(
            service, "malformed JSON", status=response.status_code, body=response.text[:500]
        ) from None
