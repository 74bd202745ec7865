"""What localnet's handlers speak: a request, an answer, and the few ways the real services
format their numbers, times and errors, shared by every fake service."""

import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

# Every synthetic token's supply: market caps and liquidity derive from it.
TOKEN_SUPPLY = Decimal(1_000_000_000)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes = b""
    args: tuple[str, ...] = ()  # the route pattern's groups, percent-decoded
    headers: Mapping[str, str] = field(default_factory=dict)  # names lowercased

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    # A streamed body: frames written as HTTP chunks as the generator yields them; closed when
    # the connection ends. It may raise DropConnection to have the connection cut short.
    stream: Generator[bytes, None, None] | None = None


def json_response(payload, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, "application/json", headers or {})


def text_response(text: str, status: int) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8")


class Rejected(Exception):
    """Raised while reading a request; carries the error answer the real service would give."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def number(value: Decimal, places: int | None = None) -> float:
    """A JSON number, as the real APIs send; only ever built at the edge of the response."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return float(value)


def iso_millis(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pool_liquidity_usd(liquidity_sol: Decimal, sol_usd: Decimal) -> Decimal:
    # Both sides of a constant-product pool hold the same value.
    return 2 * liquidity_sol * sol_usd


def jupiter_error(message: str, code: str | None = None) -> Rejected:
    body = {"error": message} if code is None else {"error": message, "errorCode": code}
    return Rejected(json_response(body, 400))
