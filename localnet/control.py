"""localnet's control routes (/_localnet/...): JSON in, JSON out, decimals as strings. They let
demos, tests in other processes and people drive the synthetic market: prices, tokens, faults,
latencies, the chain's clock, the Hermes stream and the strategist model's answers."""

import json
from collections.abc import Callable
from decimal import Decimal

from solders.pubkey import Pubkey

from localnet.answers import Rejected, Request, Response, json_response
from localnet.llm import StrategistPolicy
from localnet.market import SyntheticMarket, Token
from localnet.stream import HermesStreamControl
from nexgent.money import as_str, to_decimal

# Control routes (/_localnet/...): JSON in, JSON out; decimals travel as strings


def _payload(request: Request) -> dict:
    try:
        payload = json.loads(request.body or b"{}", parse_float=Decimal)
    except ValueError as exc:
        raise Rejected(json_response({"error": f"invalid JSON: {exc}"}, 400)) from exc
    if not isinstance(payload, dict):
        raise Rejected(json_response({"error": "expected a JSON object"}, 400))
    return payload


def _field(payload: dict, name: str, default=None):
    if name in payload:
        return payload[name]
    if default is None:
        raise ValueError(f"{name} is required")
    return default


def _int_field(payload: dict, name: str, default: int | None = None) -> int:
    value = _field(payload, name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _decimal_field(payload: dict, name: str) -> Decimal:
    value = _field(payload, name)
    try:
        return to_decimal(value)
    except (ArithmeticError, TypeError) as exc:
        raise ValueError(f"{name} must be a decimal number, got {value!r}") from exc


def _control(action: Callable[[SyntheticMarket, dict], tuple[int, dict]]):
    """Wraps a control action: a value the market refuses is a 400, an unknown mint a 404."""

    def handler(market: SyntheticMarket, request: Request) -> Response:
        try:
            status, body = action(market, _payload(request))
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        except KeyError as exc:
            return json_response({"error": f"unknown token {exc.args[0]}"}, 404)
        return json_response(body, status)

    return handler


def _token_state(token: Token) -> dict:
    return {
        "mint": token.mint,
        "symbol": token.symbol,
        "name": token.name,
        "decimals": token.decimals,
        "price_sol": as_str(token.price_sol),
        "liquidity_sol": as_str(token.liquidity_sol),
        "routable": token.routable,
    }


def _control_state(market: SyntheticMarket, request: Request) -> Response:
    tokens = market.lookup(market.tokens())
    return json_response(
        {
            "sol_usd": as_str(market.sol_usd()),
            "slot": market.slot(),
            "tokens": [_token_state(token) for token in tokens.values()],
            "hermes_stream": market.hermes_stream.state(),
        }
    )


def _set_price(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    mint = str(_field(payload, "mint"))
    market.set_price(mint, _field(payload, "price_sol"))
    return 200, _token_state(market.token(mint))


def _set_liquidity(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    mint = str(_field(payload, "mint"))
    market.set_liquidity(mint, _field(payload, "liquidity_sol"))
    return 200, _token_state(market.token(mint))


def _set_sol_usd(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    market.set_sol_usd(_field(payload, "price"))
    return 200, {"sol_usd": as_str(market.sol_usd())}


def _add_token(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    mint = market.add_token(
        symbol=str(_field(payload, "symbol")),
        price_sol=_field(payload, "price_sol"),
        decimals=_int_field(payload, "decimals", 6),
        liquidity_sol=_field(payload, "liquidity_sol", "500"),
        mint=payload.get("mint"),
        name=payload.get("name"),
    )
    return 201, _token_state(market.token(mint))


def _rug(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    mint = str(_field(payload, "mint"))
    market.rug(mint)
    return 200, _token_state(market.token(mint))


def _inject_fault(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    """{"service", "status", "count"?, "retry_after"?, "path"?, "after"?}; status "malformed"
    answers 200 with a body that is not valid JSON."""
    service = str(_field(payload, "service"))
    count = _int_field(payload, "count", 1)
    if payload.get("status") == "malformed":
        market.inject_malformed(service, count)
        return 200, {"service": service, "status": "malformed", "count": count}
    status = _int_field(payload, "status")
    retry_after = payload.get("retry_after")
    if retry_after is not None:
        retry_after = _int_field(payload, "retry_after")
    path = payload.get("path")
    market.inject_fault(
        service,
        status=status,
        count=count,
        retry_after=retry_after,
        path=None if path is None else str(path),
        after=payload.get("after") is True,
    )
    return 200, {"service": service, "status": status, "count": count}


def _inject_delay(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    service = str(_field(payload, "service"))
    seconds, count = _decimal_field(payload, "seconds"), _int_field(payload, "count", 1)
    market.inject_delay(service, float(seconds), count)
    return 200, {"service": service, "seconds": as_str(seconds), "count": count}


def _optional_seconds(payload: dict, name: str, current: float | None) -> float | None:
    if name not in payload:
        return current
    value = payload[name]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"{name} must be a number of seconds or null, got {value!r}")
    return float(value)


def _stream_clock(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    """Set the stream's pace: interval (null: updates only when published) and keepalive."""
    stream = market.hermes_stream
    current = stream.state()
    keepalive = _optional_seconds(payload, "keepalive", current["keepalive"])
    if keepalive is None:
        raise ValueError("keepalive cannot be null")
    stream.configure(
        interval=_optional_seconds(payload, "interval", current["interval"]), keepalive=keepalive
    )
    return 200, stream.state()


def _stream_action(act: Callable[[HermesStreamControl, dict], None]):
    def action(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
        act(market.hermes_stream, payload)
        return 200, market.hermes_stream.state()

    return _control(action)


# POST /_localnet/hermes/<name>: each answers the stream's state (localnet.stream).
_STREAM_ACTIONS: dict[str, Callable[[HermesStreamControl, dict], None]] = {
    "publish": lambda stream, payload: stream.publish(_int_field(payload, "count", 1)),
    "drop": lambda stream, payload: stream.drop(),
    "end": lambda stream, payload: stream.end(),
    "silence": lambda stream, payload: stream.silence(_int_field(payload, "after", 0)),
    "resume": lambda stream, payload: stream.resume(),
    "error": lambda stream, payload: stream.error(),
}


def _publish_lag(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    market.set_publish_lag(_int_field(payload, "seconds"))
    return 200, {"publish_lag": market.publish_lag()}


def _api_key(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    """Require `key` on `service` from now on; a null key lifts the requirement."""
    service = str(_field(payload, "service"))
    key = payload.get("key")
    market.require_api_key(service, None if key is None else str(key))
    return 200, {"service": service, "key_required": key is not None}


def _latency(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    """{"service", "seconds"}: a standing latency on every request to the service."""
    service = str(_field(payload, "service"))
    seconds = _decimal_field(payload, "seconds")
    market.set_latency(service, float(seconds))
    return 200, {"service": service, "seconds": as_str(seconds)}


def _chain_state(market: SyntheticMarket) -> dict:
    chain = market.chain
    return {
        "slot": chain.slot(),
        "block_height": chain.block_height(),
        "slot_seconds": market.slot_clock.slot_seconds,
    }


def _slot_time(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    """{"seconds": number | null}: the slot time from now on; null stops the clock (slots
    then pass only through /_localnet/advance)."""
    if "seconds" not in payload:
        raise ValueError("seconds is required (null stops the clock)")
    market.set_slot_time(_optional_seconds(payload, "seconds", None))
    return 200, _chain_state(market)


def _advance(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    market.chain.advance(_int_field(payload, "slots", 1))
    return 200, _chain_state(market)


def _airdrop(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    """{"pubkey", "lamports"}: fund a wallet with SOL, as a faucet does."""
    address = Pubkey.from_string(str(_field(payload, "pubkey")))
    lamports = _int_field(payload, "lamports")
    if lamports <= 0:
        raise ValueError(f"lamports must be positive, got {lamports}")
    signature = market.chain.fund(address, lamports)
    return 200, {"signature": str(signature), "balance": market.chain.balance(address)}


_CHAIN_FAULTS = {
    "never_lands": lambda chain, count: chain.inject_never_lands(count),
    "slippage": lambda chain, count: chain.inject_slippage(count),
    "preflight": lambda chain, count: chain.inject_preflight_failure(count),
}


def _chain_fault(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    """{"kind": never_lands | slippage | preflight, "count"?}."""
    kind, count = str(_field(payload, "kind")), _int_field(payload, "count", 1)
    if kind not in _CHAIN_FAULTS:
        raise ValueError(f"unknown chain fault {kind!r}; expected one of {sorted(_CHAIN_FAULTS)}")
    _CHAIN_FAULTS[kind](market.chain, count)
    return 200, {"kind": kind, "count": count}


def _policy_state(policy: StrategistPolicy) -> dict:
    return {
        "close_below_percent": as_str(policy.close_below_percent),
        "open_size_sol": as_str(policy.open_size_sol),
        "stop_percent": as_str(policy.stop_percent),
        "take_profit_percent": as_str(policy.take_profit_percent),
    }


def _llm_policy(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    """{"close_below_percent"?, "open_size_sol"?, "stop_percent"?, "take_profit_percent"?}:
    the thresholds given change, the others stay; answers the whole policy."""
    names = _policy_state(market.llm.policy())
    unknown = sorted(set(payload) - set(names))
    if unknown:
        raise ValueError(f"unknown policy fields {unknown}; expected some of {sorted(names)}")
    return 200, _policy_state(market.llm.set_policy(**payload))


def _llm_answers(market: SyntheticMarket, request: Request) -> Response:
    """{"content": object | string}: the next answered request gets exactly this content.
    Read without _payload, whose Decimals would not serialize back into the answer."""
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError as exc:
        return json_response({"error": f"invalid JSON: {exc}"}, 400)
    if not isinstance(payload, dict) or not isinstance(payload.get("content"), dict | str):
        return json_response({"error": 'expected {"content": object or string}'}, 400)
    market.llm.push_answer(payload["content"])
    return json_response({"pending": market.llm.pending_answers()})


def _llm_requests(market: SyntheticMarket, request: Request) -> Response:
    return json_response({"requests": market.llm.requests})


def _llm_clear(market: SyntheticMarket, payload: dict) -> tuple[int, dict]:
    market.llm.clear()
    return 200, {"requests": [], "pending": 0}


CONTROL_ROUTES = (
    ("GET", r"/_localnet/state", _control_state),
    ("POST", r"/_localnet/price", _control(_set_price)),
    ("POST", r"/_localnet/liquidity", _control(_set_liquidity)),
    ("POST", r"/_localnet/sol_usd", _control(_set_sol_usd)),
    ("POST", r"/_localnet/token", _control(_add_token)),
    ("POST", r"/_localnet/rug", _control(_rug)),
    ("POST", r"/_localnet/fault", _control(_inject_fault)),
    ("POST", r"/_localnet/delay", _control(_inject_delay)),
    ("POST", r"/_localnet/api_key", _control(_api_key)),
    ("POST", r"/_localnet/latency", _control(_latency)),
    ("POST", r"/_localnet/slot_time", _control(_slot_time)),
    ("POST", r"/_localnet/advance", _control(_advance)),
    ("POST", r"/_localnet/airdrop", _control(_airdrop)),
    ("POST", r"/_localnet/chain_fault", _control(_chain_fault)),
    ("POST", r"/_localnet/hermes/stream", _control(_stream_clock)),
    ("POST", r"/_localnet/hermes/lag", _control(_publish_lag)),
    ("POST", r"/_localnet/llm/policy", _control(_llm_policy)),
    ("POST", r"/_localnet/llm/answers", _llm_answers),
    ("GET", r"/_localnet/llm/requests", _llm_requests),
    ("POST", r"/_localnet/llm/clear", _control(_llm_clear)),
    *(
        ("POST", rf"/_localnet/hermes/{name}", _stream_action(act))
        for name, act in _STREAM_ACTIONS.items()
    ),
)
