"""The AI strategist's model, without a model: a deterministic policy that answers the engine's
prompt with the decisions JSON its schema asks for, and the knobs tests turn (the policy's
thresholds, answers queued verbatim, the log of requests received).

The prompt is the last user message: a JSON document of the agent's limits, positions and
candidates, decimals as strings. Any field may be missing, null or of the wrong type; the policy
skips what it cannot read rather than fail, as a model would. Money stays Decimal throughout.
"""

import json
import math
import threading
from collections import deque
from dataclasses import dataclass, replace
from decimal import Decimal

from nexgent.money import as_str, to_decimal

MODEL_ID = "localnet-strategist"
# Enough for a long demo of a request every few minutes, bounded like the market's request log.
REQUESTS_KEPT = 10_000
CLOSE_CONFIDENCE = 0.8
OPEN_CONFIDENCE = 0.7
# What a proxy's truncated answer looks like, and an answer the engine's schema refuses.
MALFORMED_CONTENT = '{"reasoning": "cut off", "decisions": ['
SCHEMA_VIOLATION_CONTENT = {"reasoning": "an answer without its decisions"}


@dataclass(frozen=True, slots=True)
class StrategistPolicy:
    close_below_percent: Decimal = Decimal("-10")
    open_size_sol: Decimal = Decimal("0.1")
    stop_percent: Decimal = Decimal("10")
    take_profit_percent: Decimal = Decimal("30")


def _setting(name: str, value) -> Decimal:
    try:
        number = to_decimal(value)
    except (ArithmeticError, TypeError) as exc:
        raise ValueError(f"{name} must be a decimal number, got {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _checked(policy: StrategistPolicy) -> StrategistPolicy:
    if policy.open_size_sol <= 0:
        raise ValueError(f"open_size_sol must be positive, got {policy.open_size_sol}")
    if not 0 <= policy.stop_percent < 100:
        raise ValueError(f"stop_percent must be within [0, 100), got {policy.stop_percent}")
    if policy.take_profit_percent < 0:
        raise ValueError(
            f"take_profit_percent must not be negative, got {policy.take_profit_percent}"
        )
    return policy


class StrategistModel:
    """The state behind /v1/chat/completions, shared by the server's threads and a test's."""

    def __init__(self):
        self._lock = threading.Lock()
        self._policy = StrategistPolicy()
        self._answers: deque[str] = deque()
        self._requests: deque[dict] = deque(maxlen=REQUESTS_KEPT)
        self._completions = 0

    def set_policy(
        self,
        *,
        close_below_percent: Decimal | str | None = None,
        open_size_sol: Decimal | str | None = None,
        stop_percent: Decimal | str | None = None,
        take_profit_percent: Decimal | str | None = None,
    ) -> StrategistPolicy:
        """Change the given thresholds (the others keep their values); returns the policy."""
        given = {
            "close_below_percent": close_below_percent,
            "open_size_sol": open_size_sol,
            "stop_percent": stop_percent,
            "take_profit_percent": take_profit_percent,
        }
        changes = {
            name: _setting(name, value) for name, value in given.items() if value is not None
        }
        with self._lock:
            self._policy = _checked(replace(self._policy, **changes))
            return self._policy

    def policy(self) -> StrategistPolicy:
        with self._lock:
            return self._policy

    def push_answer(self, content: dict | str) -> None:
        """The next answered request gets exactly this content (a dict as its JSON, a str as
        it is, valid JSON or not); answers queue up, and the policy answers once they run out."""
        if not isinstance(content, dict | str):
            raise TypeError(f"an answer is a dict or a str, got {type(content).__name__}")
        text = content if isinstance(content, str) else json.dumps(content)
        with self._lock:
            self._answers.append(text)

    def malformed_next(self) -> None:
        """The next answer is JSON cut off half way."""
        self.push_answer(MALFORMED_CONTENT)

    def schema_violation_next(self) -> None:
        """The next answer is valid JSON without the `decisions` the schema requires."""
        self.push_answer(SCHEMA_VIOLATION_CONTENT)

    def pending_answers(self) -> int:
        with self._lock:
            return len(self._answers)

    @property
    def requests(self) -> list[dict]:
        """The bodies of the chat completion requests answered so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget the requests received and the answers still queued; the policy stays."""
        with self._lock:
            self._requests.clear()
            self._answers.clear()

    def complete(self, body: dict) -> tuple[int, str]:
        """Record a request and answer it: (its sequence number, the message content)."""
        with self._lock:
            self._requests.append(body)
            self._completions += 1
            sequence = self._completions
            queued = self._answers.popleft() if self._answers else None
            policy = self._policy
        if queued is not None:
            return sequence, queued
        return sequence, json.dumps(decide(prompt_context(body.get("messages")), policy))


def message_text(message) -> str:
    """A message's text: its content string, or its text parts joined."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def token_count(text: str) -> int:
    """A stand-in for a tokenizer: about four characters a token, the same for the same text."""
    return math.ceil(len(text) / 4)


def prompt_context(messages) -> dict:
    """The JSON object in the last user message; {} when there is none to read."""
    if not isinstance(messages, list):
        return {}
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        return {}
    try:
        context = json.loads(message_text(users[-1]), parse_float=Decimal)
    except ValueError:
        return {}
    return context if isinstance(context, dict) else {}


def _number(value) -> Decimal | None:
    """A finite Decimal from a decimal string or a JSON number; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    try:
        number = Decimal(value)
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _items(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _address(item: dict) -> str | None:
    address = item.get("token_address")
    return address if isinstance(address, str) and address else None


def _label(item: dict, address: str) -> str:
    symbol = item.get("symbol")
    return symbol if isinstance(symbol, str) and symbol else address


def _decision(action: str, address: str, confidence: float, reasoning: str, **prices) -> dict:
    return {
        "action": action,
        "token_address": address,
        "size_sol": prices.get("size_sol"),
        "stop_price": prices.get("stop_price"),
        "take_profit_price": prices.get("take_profit_price"),
        "confidence": confidence,
        "reasoning": reasoning,
    }


def _closes(positions: list[dict], policy: StrategistPolicy) -> list[dict]:
    decisions = []
    for position in positions:
        address, pnl = _address(position), _number(position.get("pnl_percent"))
        if address is None or pnl is None or pnl >= policy.close_below_percent:
            continue
        reasoning = (
            f"{_label(position, address)} is at {as_str(pnl)}% P/L, below the "
            f"{as_str(policy.close_below_percent)}% floor: close it."
        )
        decisions.append(_decision("close", address, CLOSE_CONFIDENCE, reasoning))
    return decisions


def _best_candidate(candidates: list[dict], held: set[str]) -> tuple[dict, Decimal, Decimal] | None:
    """(candidate, its price, its change_percent) with the strongest positive momentum among
    the readable candidates not held, ties to the lowest address."""
    readable = []
    for candidate in candidates:
        address = _address(candidate)
        price = _number(candidate.get("price"))
        change = _number(_mapping(candidate.get("indicators")).get("change_percent"))
        if change is None:
            # No history of the engine's own yet: the market's day change stands in.
            change = _number(candidate.get("price_change_24h_percent"))
        if address is None or address in held or price is None or price <= 0:
            continue
        if change is not None and change > 0:
            readable.append((candidate, price, change))
    if not readable:
        return None
    return min(readable, key=lambda entry: (-entry[2], _address(entry[0])))


def _open(context: dict, positions: list[dict], policy: StrategistPolicy) -> dict | None:
    limits = _mapping(context.get("limits"))
    free_slots = _number(limits.get("free_slots"))
    if (free_slots if free_slots is not None else 1) <= 0:
        return None
    held = {address for address in map(_address, positions) if address is not None}
    best = _best_candidate(_items(context.get("candidates")), held)
    if best is None:
        return None
    candidate, price, change = best
    size = policy.open_size_sol
    max_position = _number(limits.get("max_position_sol"))
    if max_position is not None:
        size = min(size, max_position)
    if size <= 0:
        return None
    address = _address(candidate)
    stop = price * (1 - policy.stop_percent / 100)
    take_profit = price * (1 + policy.take_profit_percent / 100)
    reasoning = f"{_label(candidate, address)} has the strongest momentum, +{as_str(change)}%."
    return _decision(
        "open",
        address,
        OPEN_CONFIDENCE,
        reasoning,
        size_sol=as_str(size),
        stop_price=as_str(stop),
        take_profit_price=as_str(take_profit),
    )


def decide(context: dict, policy: StrategistPolicy) -> dict:
    """The answer to a prompt: close the positions below the loss floor, then open the
    candidate with the best positive momentum if a slot is free; otherwise nothing."""
    positions = _items(context.get("positions"))
    decisions = _closes(positions, policy)
    opening = _open(context, positions, policy)
    summary = []
    if decisions:
        summary.append(
            f"Closing {len(decisions)} position(s) below {as_str(policy.close_below_percent)}% P/L."
        )
    if opening is not None:
        decisions.append(opening)
        summary.append(f"Opening 1 position: {opening['reasoning']}")
    if not decisions:
        summary.append(
            "Nothing to do: no position below the loss floor and no candidate with positive "
            "momentum and a free slot."
        )
    return {"reasoning": " ".join(summary), "decisions": decisions}
