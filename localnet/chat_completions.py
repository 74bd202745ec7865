"""OpenAI's Chat Completions API over the strategist model (localnet.llm): `POST
/v1/chat/completions` and `GET /v1/models`, with OpenAI's answer and error shapes, so the engine
runs its official SDK client against localnet unchanged. Only what the engine uses is modelled:
one non-streaming completion per request, its content being the model's JSON answer."""

import json
import time
from http import HTTPStatus

from localnet.answers import Rejected, Request, Response, json_response
from localnet.llm import MODEL_ID, message_text, token_count
from localnet.market import SyntheticMarket

# The day the model was "released": /v1/models lists a creation time that does not move.
MODEL_CREATED = 1_767_225_600

# The error `type` and `code` OpenAI gives with each status of a failed request.
_STATUS_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_STATUS_MESSAGES = {
    429: "Rate limit reached for requests. Please try again in 1s.",
    500: "The server had an error while processing your request.",
    503: "The engine is currently overloaded, please try again later.",
}


def openai_error(
    message: str,
    status: int,
    *,
    param: str | None = None,
    code: str | None = None,
    error_type: str | None = None,
) -> Response:
    fallback = ("invalid_request_error" if status < 500 else "server_error", None)
    default_type, default_code = _STATUS_ERRORS.get(status, fallback)
    error = {
        "message": message,
        "type": error_type or default_type,
        "param": param,
        "code": code or default_code,
    }
    return json_response({"error": error}, status)


def status_error(status: int) -> Response:
    """The error body OpenAI sends with a bare status: what an injected fault answers."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return openai_error(_STATUS_MESSAGES.get(status, phrase), status)


def unauthorized() -> Response:
    return openai_error("Incorrect API key provided.", 401)


def _invalid(message: str, *, param: str | None = None, code: str | None = None) -> Rejected:
    return Rejected(openai_error(message, 400, param=param, code=code))


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme == "Bearer" and token.strip() else None


def _authorize(request: Request) -> None:
    # The real API refuses any request without a key before reading it.
    if bearer_token(request) is None:
        raise Rejected(
            openai_error(
                "You didn't provide an API key. Send it in an Authorization header: "
                "Authorization: Bearer YOUR_KEY.",
                401,
                code="missing_api_key",
            )
        )


def _json_kind(value) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an array"


def _completion_request(request: Request) -> dict:
    try:
        body = json.loads(request.body)
    except ValueError as exc:
        raise _invalid(
            "We could not parse the JSON body of your request: the API expects a JSON payload."
        ) from exc
    if not isinstance(body, dict):
        raise _invalid(f"The request body must be a JSON object, got {_json_kind(body)}.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("you must provide a model parameter")
    if "messages" not in body:
        raise _invalid(
            "Missing required parameter: 'messages'.",
            param="messages",
            code="missing_required_parameter",
        )
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _invalid(
            f"Invalid type for 'messages': expected an array, but got {_json_kind(messages)}.",
            param="messages",
            code="invalid_type",
        )
    if not messages:
        raise _invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            param="messages",
            code="empty_array",
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _invalid(
                f"Missing required parameter: 'messages[{index}].role'.",
                param=f"messages[{index}].role",
                code="missing_required_parameter",
            )
    if body.get("stream"):
        raise _invalid(
            "localnet does not stream chat completions; send stream=false.",
            param="stream",
            code="unsupported_value",
        )
    return body


def chat_completion(market: SyntheticMarket, request: Request) -> Response:
    """POST /v1/chat/completions: a `chat.completion` whose one choice carries the model's
    answer (the policy's, or the next queued one) as its message content."""
    _authorize(request)
    body = _completion_request(request)
    sequence, content = market.llm.complete(body)
    prompt_tokens = sum(token_count(message_text(message)) for message in body["messages"])
    completion_tokens = token_count(content)
    return json_response(
        {
            "id": f"chatcmpl-localnet{sequence:08d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_localnet",
        }
    )


def models(market: SyntheticMarket, request: Request) -> Response:
    """GET /v1/models: the one model localnet serves (any model name is accepted, though)."""
    _authorize(request)
    model = {"id": MODEL_ID, "object": "model", "created": MODEL_CREATED, "owned_by": "localnet"}
    return json_response({"object": "list", "data": [model]})


def unknown_path(market: SyntheticMarket, request: Request) -> Response:
    return openai_error(f"Invalid URL ({request.method} {request.path})", 404)
