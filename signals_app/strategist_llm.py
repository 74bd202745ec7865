"""The AI strategist's one call to a model: an OpenAI-compatible Chat Completions endpoint
through the `openai` SDK (external-apis.md section 10.1). The SDK's own retries are off: a
failed call makes the cycle wait for the next one, which is the retry."""

import time
from dataclasses import dataclass

import openai

from signals_app.strategist_rules import ANSWER_SCHEMA, SCHEMA_NAME, AnswerInvalid


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    text: str
    # The chain of thought of reasoning models (DeepSeek's reasoning_content), if any.
    thinking: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    # "length": the answer was cut off at the token limit (it is then malformed).
    finish_reason: str


class ModelUnavailable(Exception):
    """The model gave no usable answer: `reason` is the cycle's wait reason."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def response_format(kind: str) -> dict:
    if kind == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "schema": ANSWER_SCHEMA, "strict": True},
    }


def model_ask(
    *,
    base_url: str,
    api_key: str,
    model: str,
    messages: list[dict],
    format_kind: str,
    timeout_seconds: float,
) -> ModelAnswer:
    """One Chat Completions call. Raises ModelUnavailable (timeout, rate limit, refusal,
    server error, unreachable) or AnswerInvalid (an answer without a choice)."""
    client = openai.OpenAI(
        base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout_seconds
    )
    started = time.monotonic()
    try:
        completion = client.chat.completions.create(
            model=model,
            messages=messages,
            response_format=response_format(format_kind),
            temperature=0,
        )
    except openai.APITimeoutError:
        raise ModelUnavailable("model_timeout", f"no answer within {timeout_seconds} s") from None
    except openai.RateLimitError as error:
        raise ModelUnavailable("model_rate_limited", _status_text(error)) from None
    except openai.AuthenticationError as error:
        raise ModelUnavailable("model_auth_failed", _status_text(error)) from None
    except openai.APIStatusError as error:
        raise ModelUnavailable("model_error", _status_text(error)) from None
    except openai.APIConnectionError as error:
        raise ModelUnavailable("model_unreachable", type(error).__name__) from None
    finally:
        client.close()
    latency_ms = int((time.monotonic() - started) * 1000)
    return _answer(completion, latency_ms)


def _status_text(error: openai.APIStatusError) -> str:
    # The provider's message, never the request (it carries the key in its headers).
    return f"HTTP {error.status_code}: {str(error.message)[:500]}"


def _answer(completion, latency_ms: int) -> ModelAnswer:
    if not completion.choices:
        raise AnswerInvalid("malformed_answer", "the answer has no choices")
    choice = completion.choices[0]
    usage = completion.usage
    return ModelAnswer(
        text=choice.message.content or "",
        thinking=getattr(choice.message, "reasoning_content", None) or "",
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        latency_ms=latency_ms,
        finish_reason=choice.finish_reason or "",
    )
