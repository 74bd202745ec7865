"""OpenAI's Chat Completions API on localnet, driven by the official SDK as the engine drives
it: the strategist's deterministic policy, queued answers, faults and the control routes."""

import json
import math
from decimal import Decimal

import openai
import pytest
import requests

SYSTEM = "You are a cautious Solana memecoin strategist. Answer with JSON only."
DECISIONS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reasoning", "decisions"],
    "properties": {
        "reasoning": {"type": "string"},
        "decisions": {
            "type": "array",
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
                    "size_sol": {"type": ["string", "null"]},
                    "stop_price": {"type": ["string", "null"]},
                    "take_profit_price": {"type": ["string", "null"]},
                    "confidence": {"type": "number"},
                    "reasoning": {"type": "string"},
                },
            },
        },
    },
}
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "strategist_decisions", "strict": True, "schema": DECISIONS_SCHEMA},
}
BONK = "BonkMint1111111111111111111111111111111111"
WIF = "WifMint11111111111111111111111111111111111"
POPCAT = "PopcatMint111111111111111111111111111111111"


def _candidate(address: str, price: str, change: str | None, symbol: str = "TOK") -> dict:
    indicators = None if change is None else {"change_percent": change, "rsi": "55.1"}
    return {
        "token_address": address,
        "symbol": symbol,
        "price": price,
        "liquidity_usd": "150000",
        "market_cap_usd": "2500000",
        "indicators": indicators,
    }


def _position(address: str, pnl_percent: str, symbol: str = "HELD") -> dict:
    return {
        "token_address": address,
        "symbol": symbol,
        "entry_price": "0.001",
        "current_price": "0.0009",
        "pnl_percent": pnl_percent,
        "hold_minutes": 42,
        "stop_price": "0.0008",
    }


def _context(**fields) -> dict:
    return {
        "agent": {"name": "Demo agent"},
        "limits": {"max_position_sol": "0.5", "max_open_positions": 3, "free_slots": 2},
        "account": {"equity_sol": "10", "sol_free": "9.5"},
        "positions": [],
        "candidates": [],
        "performance": {"win_rate": "0.5"},
        **fields,
    }


def _messages(context) -> list[dict]:
    user = context if isinstance(context, str) else json.dumps(context)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


@pytest.fixture
def client(localnet):
    return openai.OpenAI(
        base_url=f"{localnet.url}/v1", api_key="sk-localnet", max_retries=0, timeout=5
    )


@pytest.fixture
def ask(client):
    """Send one strategist request; returns the completion and its parsed answer."""

    def _ask(context, model: str = "gpt-strategist"):
        completion = client.chat.completions.create(
            model=model, messages=_messages(context), response_format=RESPONSE_FORMAT
        )
        return completion, json.loads(completion.choices[0].message.content)

    return _ask


def test_the_answer_is_a_chat_completion_echoing_the_model(ask):
    completion, answer = ask(_context(), model="gpt-4.1-mini")

    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4.1-mini"
    (choice,) = completion.choices
    assert (choice.index, choice.finish_reason, choice.logprobs) == (0, "stop", None)
    assert (choice.message.role, choice.message.refusal) == ("assistant", None)
    assert set(answer) == {"reasoning", "decisions"}


def test_the_best_momentum_candidate_is_opened_with_exact_stop_and_take_profit(ask):
    context = _context(
        candidates=[
            _candidate(BONK, "0.0025", "3.2", "BONK"),
            _candidate(WIF, "0.0123", "7.5", "WIF"),
            _candidate(POPCAT, "0.5", "-4"),
            _candidate("NoIndicators", "1", None),
            {"token_address": "NoChange", "price": "1", "indicators": {"rsi": "70"}},
        ]
    )

    _, answer = ask(context)

    assert answer["decisions"] == [
        {
            "action": "open",
            "token_address": WIF,
            "size_sol": "0.1",
            "stop_price": "0.01107",
            "take_profit_price": "0.01599",
            "confidence": 0.7,
            "reasoning": "WIF has the strongest momentum, +7.5%.",
        }
    ]
    assert "WIF" in answer["reasoning"]


def test_policy_settings_change_the_size_stop_and_take_profit(ask, market):
    market.llm.set_policy(open_size_sol="0.25", stop_percent=Decimal("5"), take_profit_percent="50")

    _, answer = ask(_context(candidates=[_candidate(BONK, "0.0025", "3.2")]))

    (decision,) = answer["decisions"]
    assert (decision["size_sol"], decision["stop_price"], decision["take_profit_price"]) == (
        "0.25",
        "0.002375",
        "0.00375",
    )


def test_the_size_never_exceeds_max_position_sol(ask):
    limits = {"max_position_sol": "0.04", "free_slots": 1}

    _, answer = ask(_context(limits=limits, candidates=[_candidate(BONK, "0.0025", "3.2")]))

    assert answer["decisions"][0]["size_sol"] == "0.04"


def test_momentum_ties_go_to_the_lowest_address(ask):
    candidates = [_candidate(WIF, "1", "4.0"), _candidate(BONK, "2", "4")]

    _, answer = ask(_context(candidates=candidates))

    assert [d["token_address"] for d in answer["decisions"]] == [BONK]


def test_nothing_opens_without_a_free_slot_or_for_a_token_already_held(ask):
    candidates = [_candidate(BONK, "0.0025", "9"), _candidate(WIF, "0.01", "2")]

    _, full = ask(_context(limits={"free_slots": 0}, candidates=candidates))
    _, held = ask(_context(positions=[_position(BONK, "1.5")], candidates=candidates))

    assert full["decisions"] == []
    assert [d["token_address"] for d in held["decisions"]] == [WIF]


def test_one_slot_is_assumed_when_limits_are_absent(ask):
    context = {"candidates": [_candidate(BONK, "0.0025", "3.2")]}

    _, answer = ask(context)

    assert [(d["action"], d["size_sol"]) for d in answer["decisions"]] == [("open", "0.1")]


def test_positions_below_the_loss_floor_are_closed_first(ask):
    positions = [
        _position(BONK, "-12.5", "BONK"),
        _position(WIF, "-10"),
        _position(POPCAT, None),
    ]

    _, answer = ask(_context(positions=positions, candidates=[_candidate("Fresh", "1", "2")]))

    close, opening = answer["decisions"]
    assert close == {
        "action": "close",
        "token_address": BONK,
        "size_sol": None,
        "stop_price": None,
        "take_profit_price": None,
        "confidence": 0.8,
        "reasoning": "BONK is at -12.5% P/L, below the -10% floor: close it.",
    }
    assert (opening["action"], opening["token_address"]) == ("open", "Fresh")


def test_the_loss_floor_is_a_policy_setting(ask, market):
    market.llm.set_policy(close_below_percent="-5")

    _, answer = ask(_context(positions=[_position(WIF, "-6")]))

    assert [(d["action"], d["token_address"]) for d in answer["decisions"]] == [("close", WIF)]


@pytest.mark.parametrize(
    "context",
    [
        _context(),
        {},
        {"positions": None, "candidates": None, "limits": None},
        "not a JSON document",
        "[1, 2, 3]",
    ],
    ids=["empty-lists", "empty-object", "nulls", "plain-text", "json-array"],
)
def test_nothing_to_do_is_an_empty_decision_list(ask, context):
    _, answer = ask(context)

    assert answer["decisions"] == []
    assert "nothing to do" in answer["reasoning"].lower()


def test_usage_counts_are_deterministic(ask):
    context = _context(candidates=[_candidate(BONK, "0.0025", "3.2")])

    first, _ = ask(context)
    second, _ = ask(context)

    prompt = math.ceil(len(SYSTEM) / 4) + math.ceil(len(json.dumps(context)) / 4)
    answer_tokens = math.ceil(len(first.choices[0].message.content) / 4)
    assert first.usage.prompt_tokens == prompt
    assert first.usage.completion_tokens == answer_tokens
    assert first.usage.total_tokens == prompt + answer_tokens
    assert second.usage == first.usage


def test_pushed_answers_are_sent_verbatim_in_order_then_the_policy_answers(client, ask, market):
    pushed = {"reasoning": "scripted", "decisions": [{"action": "hold", "confidence": 1}]}
    market.llm.push_answer(pushed)
    market.llm.push_answer('{"decisions": [')

    _, first = ask(_context())
    second = client.chat.completions.create(model="m", messages=_messages(_context()))
    _, third = ask(_context())

    assert first == pushed
    assert second.choices[0].message.content == '{"decisions": ['
    assert third["decisions"] == []


def test_malformed_and_schema_violating_answers_can_be_queued(client, market):
    market.llm.malformed_next()
    market.llm.schema_violation_next()

    malformed, violation = (
        client.chat.completions.create(model="m", messages=_messages(_context())) for _ in "12"
    )

    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.choices[0].message.content)
    assert "decisions" not in json.loads(violation.choices[0].message.content)


def test_requests_are_recorded_until_cleared(ask, market):
    context = _context(candidates=[_candidate(BONK, "0.0025", "3.2")])

    ask(context)
    ask(_context())

    first, second = market.llm.requests
    assert first["model"] == "gpt-strategist"
    assert first["messages"] == _messages(context)
    assert first["response_format"] == RESPONSE_FORMAT
    assert json.loads(second["messages"][-1]["content"]) == _context()
    market.llm.clear()
    assert market.llm.requests == []


def test_an_injected_429_is_a_rate_limit_error_in_openai_shape(client, ask, market):
    market.inject_fault("llm", status=429)

    with pytest.raises(openai.RateLimitError) as raised:
        ask(_context())
    _, recovered = ask(_context())

    assert raised.value.status_code == 429
    assert raised.value.body["code"] == "rate_limit_exceeded"
    assert set(raised.value.body) == {"message", "type", "param", "code"}
    assert recovered["decisions"] == []


@pytest.mark.parametrize("status", [500, 503])
def test_an_injected_server_error_is_an_internal_server_error(ask, market, status):
    market.inject_fault("llm", status=status)

    with pytest.raises(openai.InternalServerError) as raised:
        ask(_context())

    assert raised.value.status_code == status
    assert raised.value.body["type"] == "server_error"


def test_a_fault_does_not_spend_a_queued_answer(ask, market):
    market.llm.push_answer({"reasoning": "kept", "decisions": []})
    market.inject_fault("llm", status=500)

    with pytest.raises(openai.InternalServerError):
        ask(_context())

    assert ask(_context())[1]["reasoning"] == "kept"


def test_an_injected_delay_beyond_the_timeout_is_an_api_timeout(localnet, market):
    market.inject_delay("llm", seconds=1.0)
    impatient = openai.OpenAI(
        base_url=f"{localnet.url}/v1", api_key="sk-localnet", max_retries=0, timeout=0.3
    )

    with pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model="m", messages=_messages(_context()))
    answered = impatient.chat.completions.create(model="m", messages=_messages(_context()))

    assert answered.choices[0].finish_reason == "stop"


def test_a_request_without_a_bearer_key_is_refused(localnet):
    url = f"{localnet.url}/v1/chat/completions"
    body = {"model": "m", "messages": _messages(_context())}

    missing = requests.post(url, json=body, timeout=5)
    empty = requests.post(url, json=body, headers={"Authorization": "Bearer "}, timeout=5)

    for response in (missing, empty):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert response.json()["error"]["param"] is None


def test_a_required_key_makes_a_wrong_one_an_authentication_error(localnet, client, market):
    market.require_api_key("llm", "sk-right")
    right = openai.OpenAI(
        base_url=f"{localnet.url}/v1", api_key="sk-right", max_retries=0, timeout=5
    )

    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="m", messages=_messages(_context()))

    assert raised.value.body["code"] == "invalid_api_key"
    assert right.chat.completions.create(model="m", messages=_messages(_context())).choices


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b'["model", "messages"]', None),
        (json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(), None),
        (json.dumps({"model": "m"}).encode(), "messages"),
        (json.dumps({"model": "m", "messages": {"role": "user"}}).encode(), "messages"),
        (json.dumps({"model": "m", "messages": []}).encode(), "messages"),
        (json.dumps({"model": "m", "messages": [{"content": "hi"}]}).encode(), "messages[0].role"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-model",
        "no-messages",
        "messages-not-a-list",
        "no-message",
        "message-without-role",
    ],
)
def test_a_bad_body_is_a_400_in_openai_shape(localnet, body, param):
    response = requests.post(
        f"{localnet.url}/v1/chat/completions",
        data=body,
        headers={"Authorization": "Bearer sk-localnet", "Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert error["message"]


def test_the_sdk_sees_a_bad_request_error(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=[])


def test_other_openai_paths_are_404s(localnet, client):
    response = requests.post(f"{localnet.url}/v1/responses", json={}, timeout=5)

    assert response.status_code == 404
    assert response.json()["error"]["message"] == "Invalid URL (POST /v1/responses)"
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="m", input="hi")


def test_models_lists_the_strategist(client):
    assert [model.id for model in client.models.list()] == ["localnet-strategist"]


def test_policy_values_are_checked(market):
    with pytest.raises(ValueError, match="open_size_sol"):
        market.llm.set_policy(open_size_sol="0")
    with pytest.raises(ValueError, match="stop_percent"):
        market.llm.set_policy(stop_percent="100")
    with pytest.raises(ValueError, match="take_profit_percent"):
        market.llm.set_policy(take_profit_percent="lots")
    with pytest.raises(TypeError):
        market.llm.push_answer(["not", "a", "dict"])


def test_control_routes_drive_the_model_over_http(localnet, ask, get, post):
    policy = post("/_localnet/llm/policy", {"open_size_sol": "0.2", "stop_percent": 20})
    queued = post("/_localnet/llm/answers", {"content": {"reasoning": "over http", "x": 1.5}})
    raw = post("/_localnet/llm/answers", {"content": "not json"})

    assert policy.json() == {
        "close_below_percent": "-10",
        "open_size_sol": "0.2",
        "stop_percent": "20",
        "take_profit_percent": "30",
    }
    assert (queued.json(), raw.json()) == ({"pending": 1}, {"pending": 2})
    client = openai.OpenAI(base_url=f"{localnet.url}/v1", api_key="k", max_retries=0, timeout=5)
    contents = [
        client.chat.completions.create(model="m", messages=_messages(_context()))
        .choices[0]
        .message.content
        for _ in range(2)
    ]
    assert json.loads(contents[0]) == {"reasoning": "over http", "x": 1.5}
    assert contents[1] == "not json"
    _, answer = ask(_context(candidates=[_candidate(BONK, "0.0025", "3.2")]))
    assert answer["decisions"][0]["stop_price"] == "0.002"
    recorded = get("/_localnet/llm/requests").json()["requests"]
    assert len(recorded) == 3
    assert recorded[0]["messages"] == _messages(_context())
    assert post("/_localnet/llm/clear", {}).ok
    assert get("/_localnet/llm/requests").json() == {"requests": []}


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/_localnet/llm/policy", {"stop_percent": "-1"}),
        ("/_localnet/llm/policy", {"stop": "5"}),
        ("/_localnet/llm/answers", {"content": 5}),
        ("/_localnet/llm/answers", {}),
    ],
)
def test_control_routes_refuse_bad_values(post, path, payload):
    response = post(path, payload)

    assert response.status_code == 400
    assert response.json()["error"]


def test_a_client_error_fault_is_typed_as_a_request_error(ask, market):
    market.inject_fault("llm", status=403)

    with pytest.raises(openai.PermissionDeniedError) as raised:
        ask(_context())

    assert raised.value.body["type"] == "invalid_request_error"


def test_without_history_the_market_day_change_ranks_the_candidates(market):
    from localnet.llm import decide

    context = {
        "limits": {"free_slots": 1},
        "candidates": [
            {"token_address": "A" * 32, "price": "1", "price_change_24h_percent": "5"},
            {"token_address": "B" * 32, "price": "1", "price_change_24h_percent": "9"},
            {
                "token_address": "C" * 32,
                "price": "1",
                "indicators": {"change_percent": "-1"},
                "price_change_24h_percent": "50",
            },
        ],
    }

    decisions = decide(context, market.llm.policy())["decisions"]

    assert [(d["action"], d["token_address"]) for d in decisions] == [("open", "B" * 32)]
