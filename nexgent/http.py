"""What every external service's client shares: its error type, and JSON numbers parsed as
Decimal. The requests themselves go through prices.providers."""

from decimal import Decimal

import requests


class ExternalServiceError(Exception):
    """An external service failed or answered something unusable."""

    def __init__(self, service: str, message: str, *, status: int | None = None, body=None):
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status
        self.body = body


def decode_json(service: str, response: requests.Response):
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        raise ExternalServiceError(
            service, "malformed JSON", status=response.status_code, body=response.text[:500]
        ) from None
