"""The AI strategist's rules, pure (no Django, no I/O): the answer's JSON Schema and its
parsing, the prompt, the indicators shown per candidate, and the risk manager that every
decision passes before anything is executed (docs/strategist.md).

Money stays Decimal: the model's sizes and prices are read as Decimal from the JSON text
(never through float). The indicators are features shown to the model, not money: the kept
library (talipp) computes them in floats, and they are written into the prompt rounded to six
significant digits; nothing the engine pays or books is computed from them.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from talipp.indicators import ATR, EMA, RSI
from talipp.ohlcv import OHLCV

# The most decisions one answer may carry: more is an answer out of control, not a plan.
MAX_DECISIONS = 20
MAX_REASONING_CHARS = 4000
HUNDRED = Decimal(100)
ZERO = Decimal(0)


# --- The answer ---------------------------------------------------------------------------------


def _decimal_text(value: object) -> object:
    """A decimal given as a string or a JSON number (read as Decimal); null stays None."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("must be a decimal number as a string")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a decimal number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    return number


DecimalText = Annotated[Decimal | None, BeforeValidator(_decimal_text)]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["open", "close", "hold"]
    token_address: str = Field(max_length=64)
    size_sol: DecimalText = None
    stop_price: DecimalText = None
    take_profit_price: DecimalText = None
    confidence: DecimalText = Field(default=None, ge=0, le=1)
    reasoning: str = Field(default="", max_length=MAX_REASONING_CHARS)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reasoning: str = Field(max_length=MAX_REASONING_CHARS * 4)
    decisions: tuple[DecisionIn, ...] = Field(max_length=MAX_DECISIONS)


_NULLABLE_DECIMAL = {"type": ["string", "null"], "description": "a decimal number, as a string"}

#: The JSON Schema the answer is held to (sent as the response format where the provider takes
#: one; the engine validates every answer against AnswerIn whatever the provider promised).
ANSWER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reasoning", "decisions"],
    "properties": {
        "reasoning": {"type": "string"},
        "decisions": {
            "type": "array",
            "maxItems": MAX_DECISIONS,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "action",
                    "token_address",
                    "size_sol",
                    "stop_price",
                    "take_profit_price",
                    "confidence",
                    "reasoning",
                ],
                "properties": {
                    "action": {"type": "string", "enum": ["open", "close", "hold"]},
                    "token_address": {"type": "string"},
                    "size_sol": _NULLABLE_DECIMAL,
                    "stop_price": _NULLABLE_DECIMAL,
                    "take_profit_price": _NULLABLE_DECIMAL,
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "reasoning": {"type": "string"},
                },
            },
        },
    },
}
SCHEMA_NAME = "strategist_decisions"


class AnswerInvalid(ValueError):
    """The model's answer cannot be used: `reason` is "malformed_answer" (not JSON, cut off)
    or "schema_violation" (JSON that breaks the schema)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def answer_parse(text: str) -> AnswerIn:
    try:
        data = json.loads(text, parse_float=Decimal)
    except (TypeError, ValueError) as error:
        raise AnswerInvalid("malformed_answer", f"the answer is not JSON: {error}") from None
    try:
        return AnswerIn.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'answer'}: {problem['msg']}"
            for problem in error.errors()[:5]
        )
        raise AnswerInvalid(
            "schema_violation", f"the answer breaks the schema: {problems}"
        ) from None


# --- The prompt ---------------------------------------------------------------------------------

SYSTEM_PROMPT = """You are the trading strategist of one agent of a Solana token trading engine.
Every few minutes you are given, as one JSON document: the agent's limits, its account, its open
positions, candidate tokens with market data and indicators, and its own past performance.
Decide what to do now and answer with JSON only, in exactly this shape:
{"reasoning": "<your overall reasoning>", "decisions": [{"action": "open" | "close" | "hold",
"token_address": "<mint of a candidate or of an open position>", "size_sol": "<SOL to spend, for
open, as a decimal string, else null>", "stop_price": "<SOL price to exit at a loss, below the
current price, or null>", "take_profit_price": "<SOL price to take profit at, above the current
price, or null>", "confidence": <0 to 1>, "reasoning": "<why>"}]}
Rules the engine enforces (a decision that breaks one is dropped): open only a token listed in
candidates and not already held; at most limits.free_slots opens; size_sol at most
limits.max_position_sol and at most limits.max_position_equity_percent of the equity, and no
more than the account's free SOL; a stop below the current price; when both a stop and a take
profit are given, (take_profit - price) / (price - stop) of at least limits.min_reward_risk;
close only a token held in positions. Closes are executed before opens. Say "hold" (or give no
decisions) when nothing is worth doing. Learn from the performance section: it is the result of
your earlier decisions."""


def prompt_messages(context: Mapping) -> list[dict]:
    """The system prompt and the context as one JSON user message (decimals as strings)."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": json.dumps(context, sort_keys=True, default=str)},
    ]


def inputs_digest(messages: Sequence[Mapping]) -> str:
    """A fingerprint of what the model was shown, to tell identical cycles apart at a glance."""
    return hashlib.sha256(json.dumps(list(messages), sort_keys=True).encode()).hexdigest()


# --- Indicators ---------------------------------------------------------------------------------

RSI_PERIOD = 14
EMA_FAST = 9
EMA_SLOW = 21
ATR_PERIOD = 14


@dataclass(frozen=True, slots=True)
class Candle:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


def candles(prices: Iterable[tuple[int, Decimal]]) -> list[Candle]:
    """OHLC candles from (bucket, price) samples in time order, one per bucket."""
    found: list[Candle] = []
    current = None
    for bucket, price in prices:
        if found and bucket == current:
            last = found[-1]
            found[-1] = Candle(last.open, max(last.high, price), min(last.low, price), price)
        else:
            found.append(Candle(price, price, price, price))
            current = bucket
    return found


def _shown(value: float | None) -> str | None:
    return None if value is None else format(Decimal(repr(value)), ".6g")


def _last(indicator) -> float | None:
    values = [value for value in indicator if value is not None]
    return values[-1] if values else None


def indicators(series: Sequence[Candle]) -> dict[str, str | None]:
    """Momentum and trend over the candles: change over the window (%), RSI, fast and slow EMA
    of the closes, ATR; None where the window is too short for one."""
    if not series:
        return {
            "change_percent": None,
            "rsi": None,
            "ema_fast": None,
            "ema_slow": None,
            "atr": None,
        }
    closes = [float(candle.close) for candle in series]
    first = series[0].open
    change = (series[-1].close - first) / first * HUNDRED if first > 0 else None
    bars = [OHLCV(float(c.open), float(c.high), float(c.low), float(c.close)) for c in series]
    return {
        "change_percent": None if change is None else format(change.quantize(Decimal("0.01")), "f"),
        "rsi": _shown(_last(RSI(period=RSI_PERIOD, input_values=closes))),
        "ema_fast": _shown(_last(EMA(period=EMA_FAST, input_values=closes))),
        "ema_slow": _shown(_last(EMA(period=EMA_SLOW, input_values=closes))),
        "atr": _shown(_last(ATR(period=ATR_PERIOD, input_values=bars))),
    }


# --- The risk manager ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    max_open_positions: int
    max_position_sol: Decimal
    max_position_equity_percent: Decimal
    min_reward_risk: Decimal


@dataclass(frozen=True, slots=True)
class RiskFacts:
    """What the risk manager checks decisions against, read once per cycle."""

    limits: Limits
    equity_sol: Decimal
    sol_free: Decimal
    held: frozenset[str]
    # The current SOL price of every candidate and held token the model was shown.
    prices: Mapping[str, Decimal]
    candidates: frozenset[str]
    # Why no open may be made at all (kill switch, risk pause, a token filter...), or None.
    opens_blocked: str | None = None
    closes_blocked: str | None = None
    # Tokens the agent's own filters refuse (blacklist, not on the whitelist), with the reason.
    refused_tokens: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    accepted: bool
    reason: str = ""
    details: dict = field(default_factory=dict)


ACCEPTED = Verdict(True)


def _refused(reason: str, **details) -> Verdict:
    return Verdict(False, reason, {name: str(value) for name, value in details.items()})


def verdicts(decisions: Sequence[DecisionIn], facts: RiskFacts) -> list[Verdict]:
    """The risk manager's verdict on each decision, in the answer's order. Closes are judged
    first (they are executed first, and free the slots opens may take), then opens in order,
    each against what the accepted ones before it already use."""
    results: dict[int, Verdict] = {}
    closing: set[str] = set()
    for index, decision in enumerate(decisions):
        if decision.action == "close":
            results[index] = _close_verdict(decision, facts, closing)
            if results[index].accepted:
                closing.add(decision.token_address)
        elif decision.action == "hold":
            results[index] = ACCEPTED
    opened: set[str] = set()
    spent = ZERO
    for index, decision in enumerate(decisions):
        if decision.action != "open":
            continue
        verdict = _open_verdict(decision, facts, opened, closing, spent)
        results[index] = verdict
        if verdict.accepted:
            opened.add(decision.token_address)
            spent += decision.size_sol
    return [results[index] for index in range(len(decisions))]


def _close_verdict(decision: DecisionIn, facts: RiskFacts, closing: set[str]) -> Verdict:
    if facts.closes_blocked:
        return _refused(facts.closes_blocked)
    if decision.token_address not in facts.held:
        return _refused("not_held")
    if decision.token_address in closing:
        return _refused("duplicate_decision")
    return ACCEPTED


def _open_verdict(decision, facts: RiskFacts, opened, closing, spent) -> Verdict:
    token, limits = decision.token_address, facts.limits
    if facts.opens_blocked:
        return _refused(facts.opens_blocked)
    if token in facts.held or token in opened:
        return _refused("position_exists")
    if token not in facts.candidates:
        return _refused("not_a_candidate")
    if token in facts.refused_tokens:
        return _refused(facts.refused_tokens[token])
    open_after = len(facts.held - closing) + len(opened)
    if open_after >= limits.max_open_positions:
        return _refused(
            "max_open_positions", open_positions=open_after, limit=limits.max_open_positions
        )
    return _size_verdict(decision, facts, spent) or _exit_prices_verdict(decision, facts)


def _size_verdict(decision, facts: RiskFacts, spent: Decimal) -> Verdict | None:
    size, limits = decision.size_sol, facts.limits
    if size is None or size <= 0:
        return _refused("size_missing")
    if size > limits.max_position_sol:
        return _refused("size_above_limit", size_sol=size, max_position_sol=limits.max_position_sol)
    equity_cap = facts.equity_sol * limits.max_position_equity_percent / HUNDRED
    if size > equity_cap:
        return _refused("size_above_equity_share", size_sol=size, max_sol=equity_cap)
    if size > facts.sol_free - spent:
        return _refused("insufficient_balance", size_sol=size, sol_free=facts.sol_free - spent)
    return None


def _exit_prices_verdict(decision, facts: RiskFacts) -> Verdict:
    price = facts.prices.get(decision.token_address)
    stop, target = decision.stop_price, decision.take_profit_price
    if price is None or price <= 0:
        return _refused("price_unknown")
    if stop is not None and not ZERO < stop < price:
        return _refused("stop_not_below_price", stop_price=stop, price=price)
    if target is not None and target <= price:
        return _refused("take_profit_not_above_price", take_profit_price=target, price=price)
    if stop is not None and target is not None:
        ratio = (target - price) / (price - stop)
        if ratio < facts.limits.min_reward_risk:
            return _refused(
                "reward_risk_too_low",
                reward_risk=ratio.quantize(Decimal("0.01")),
                min_reward_risk=facts.limits.min_reward_risk,
            )
    return ACCEPTED


def stop_loss_percent(stop_price: Decimal | None, price: Decimal) -> Decimal | None:
    """The model's stop as the position's stop-loss percent from the current price (negative),
    or None for the agent's default stop."""
    if stop_price is None:
        return None
    return ((stop_price - price) / price * HUNDRED).quantize(Decimal("0.0001"))
