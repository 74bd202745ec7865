"""GET agents/{id}/decisions and its detail: an agent's strategist cycles as a real cycle
against localnet left them, newest first, paged and filtered as every list is, with reasons in
words, the prompt and raw answer on the detail only, and a constant number of queries."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.services import agent_create
from prices.selectors import LatestPrice
from prices.services import price_history_record
from signals_app.models import CycleStatus
from signals_app.reasons import REASONS
from signals_app.services import signal_create
from signals_app.strategist_services import llm_credential_set, strategist_cycle_run
from trading.ledger_services import balance_deposit

pytestmark = pytest.mark.django_db

KEY = "sk-test-decisions-0123456789"
SLOT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def strategist(user, localnet):
    llm_credential_set(
        owner=user,
        base_url=f"{localnet.url}/v1",
        model="localnet-strategist",
        api_key=KEY,
        input_usd_per_million_tokens=Decimal("2"),
        output_usd_per_million_tokens=Decimal("8"),
    )
    agent = agent_create(
        owner=user, name="Strategist", config={"signals": {"decision_source": "ai"}}
    )
    balance_deposit(wallet=agent.wallets.get(mode="simulation"), amount=Decimal("10"))
    return agent


@pytest.fixture
def operator(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def _candidate(market, owner, symbol):
    """A token whose recorded price rose over the last half hour, and a posted signal that
    makes it a candidate."""
    token = market.add_token(
        symbol=symbol, price_sol=Decimal("0.0015"), decimals=6, liquidity_sol=Decimal("3000")
    )
    now = datetime.now(UTC)
    price_history_record(
        [
            LatestPrice(
                mint=token,
                price_sol=Decimal("0.001") + Decimal("0.0005") * step / 30,
                price_usd=None,
                source="test",
                observed_at=now - timedelta(minutes=30 - step),
            )
            for step in range(31)
        ]
    )
    signal_create(owner=owner, token_address=token, signal_type="BUY", signal_strength=3)
    return token


def _run(agent, n):
    return strategist_cycle_run(agent_id=agent.pk, slot=SLOT + timedelta(minutes=3 * n))


@pytest.fixture
def cycles(market, user, strategist, django_capture_on_commit_callbacks):
    """Three cycles, oldest first: one that opened a position, one whose answer was not JSON
    (wait), one whose only decision the risk manager refused."""
    best = _candidate(market, user, "BEST")
    with django_capture_on_commit_callbacks(execute=True):
        done = _run(strategist, 0)
        market.llm.malformed_next()
        waited = _run(strategist, 1)
        market.llm.push_answer(
            {
                "reasoning": "Too big on purpose.",
                "decisions": [
                    {
                        "action": "open",
                        "token_address": _candidate(market, user, "NEXT"),
                        "size_sol": "5",
                        "stop_price": None,
                        "take_profit_price": None,
                        "confidence": 0.5,
                        "reasoning": "all in",
                    }
                ],
            }
        )
        refused = _run(strategist, 2)
    return {"done": done, "wait": waited, "refused": refused, "best": best}


def _url(agent, suffix=""):
    return f"/api/v1/agents/{agent.pk}/decisions{suffix}"


def test_the_list_gives_each_cycle_newest_first_with_its_decisions_and_reasons_in_words(
    operator, strategist, cycles
):
    answer = operator.get(_url(strategist))

    assert answer.status_code == 200, answer.json()
    assert answer["X-Total-Count"] == "3"
    listed = answer.json()["cycles"]
    assert [c["id"] for c in listed] == [
        cycles["refused"].pk,
        cycles["wait"].pk,
        cycles["done"].pk,
    ]
    refused, waited, done = listed
    assert done["status"] == "done" and done["reason"] == "" and done["reason_text"] == ""
    assert done["model"] == "localnet-strategist"
    assert done["prompt_tokens"] > 0 and done["completion_tokens"] > 0
    assert done["latency_ms"] is not None and len(done["inputs_digest"]) == 64
    expected_cost = (
        done["prompt_tokens"] * Decimal("2") + done["completion_tokens"] * Decimal("8")
    ) / Decimal(1_000_000)
    assert isinstance(done["cost_usd"], str) and Decimal(done["cost_usd"]) == expected_cost
    assert "BEST" in done["reasoning"]
    assert "prompt" not in done and "raw_answer" not in done
    [decision] = done["decisions"]
    assert decision["index"] == 0
    assert (decision["action"], decision["token_address"]) == ("open", cycles["best"])
    assert (decision["verdict"], decision["outcome"]) == ("accepted", "executed")
    assert decision["position"] is not None and decision["signal"] is not None
    assert isinstance(decision["size_sol"], str) and Decimal(decision["size_sol"]) > 0
    assert set(decision) >= {
        "stop_price",
        "take_profit_price",
        "confidence",
        "reasoning",
        "verdict_reason_text",
        "verdict_details",
        "outcome_reason",
        "outcome_reason_text",
    }

    assert waited["status"] == "wait" and waited["reason"] == "malformed_answer"
    assert waited["reason_text"] == REASONS["malformed_answer"]
    assert waited["decisions"] == []

    [too_big] = refused["decisions"]
    assert (too_big["verdict"], too_big["verdict_reason"]) == ("refused", "size_above_limit")
    assert too_big["verdict_reason_text"] == REASONS["size_above_limit"]
    assert too_big["verdict_details"] == {"size_sol": "5", "max_position_sol": "0.5"}
    assert (too_big["outcome"], too_big["position"], too_big["signal"]) == ("skipped", None, None)


def test_the_detail_adds_the_prompt_and_the_raw_answer(operator, strategist, cycles):
    done = cycles["done"]

    answer = operator.get(_url(strategist, f"/{done.pk}"))

    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == done.pk and len(body["decisions"]) == 1
    assert [m["role"] for m in body["prompt"]] == ["system", "user"]
    assert json.loads(body["raw_answer"])["decisions"][0]["token_address"] == cycles["best"]


def test_pages_and_the_status_filter(operator, strategist, cycles):
    second = operator.get(_url(strategist), {"limit": 1, "offset": 1})
    waiting = operator.get(_url(strategist), {"status": "wait"})
    done = operator.get(_url(strategist), {"status": "done", "limit": 1})

    assert [c["id"] for c in second.json()["cycles"]] == [cycles["wait"].pk]
    assert second["X-Total-Count"] == "3"
    assert [c["id"] for c in waiting.json()["cycles"]] == [cycles["wait"].pk]
    assert waiting["X-Total-Count"] == "1"
    assert [c["id"] for c in done.json()["cycles"]] == [cycles["refused"].pk]
    assert done["X-Total-Count"] == "2"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_field(operator, agent, query, field):
    answer = operator.get(_url(agent), query)

    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "validation_error"
    assert [d["field"] for d in body["details"]] == [field]


def test_another_users_agent_and_cycle_are_404(operator, other_user, strategist, cycles):
    theirs = agent_create(owner=other_user, name="Theirs")

    assert operator.get(_url(theirs)).status_code == 404
    assert operator.get(_url(theirs, f"/{cycles['done'].pk}")).status_code == 404
    # A cycle of one's own agent, asked for under another of one's agents, is not found either.
    mine = agent_create(owner=strategist.owner, name="Second")
    assert operator.get(_url(mine, f"/{cycles['done'].pk}")).status_code == 404


def test_an_api_key_needs_the_agents_scope(api_client, user, agent):
    from agents.services import api_key_create

    _, signals_only = api_key_create(owner=user, name="signals", scopes=["signals"])
    _, agents_key = api_key_create(owner=user, name="agents", scopes=["agents"])

    assert api_client.get(_url(agent), HTTP_X_API_KEY=signals_only).status_code == 403
    assert api_client.get(_url(agent), HTTP_X_API_KEY=agents_key).status_code == 200


def test_the_list_reads_cycles_and_decisions_in_a_fixed_number_of_queries(
    operator, strategist, cycles, market, user, django_capture_on_commit_callbacks
):
    with CaptureQueriesContext(connection) as three:
        assert operator.get(_url(strategist)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(3, 6):
            _run(strategist, n)
    with CaptureQueriesContext(connection) as six:
        answer = operator.get(_url(strategist))

    assert len(answer.json()["cycles"]) == 6
    assert len(six) == len(three)
    reads = [q["sql"] for q in six.captured_queries if "signals_app_strategist" in q["sql"]]
    # The page's COUNT, its cycles, and one read of all their decisions.
    assert len(reads) == 3, reads


def test_an_empty_list(operator, agent):
    answer = operator.get(_url(agent))

    assert answer.status_code == 200
    assert answer.json() == {"cycles": []}
    assert answer["X-Total-Count"] == "0"


def test_a_cycle_still_running_is_listed(operator, strategist):
    from signals_app.models import StrategistCycle

    StrategistCycle.objects.create(agent=strategist, slot=SLOT, started_at=SLOT)

    [cycle] = operator.get(_url(strategist)).json()["cycles"]

    assert cycle["status"] == CycleStatus.RUNNING and cycle["finished_at"] is None


@pytest.mark.parametrize(
    "code",
    [
        # Why a cycle waited.
        "no_model",
        "budget_reached",
        "no_wallet",
        "market_data_unavailable",
        "model_timeout",
        "model_rate_limited",
        "model_error",
        "model_auth_failed",
        "model_unreachable",
        "malformed_answer",
        "schema_violation",
        "abandoned",
        # Why the risk manager refused a decision.
        "not_a_candidate",
        "position_exists",
        "max_open_positions",
        "size_missing",
        "size_above_limit",
        "size_above_equity_share",
        "insufficient_balance",
        "stop_not_below_price",
        "take_profit_not_above_price",
        "reward_risk_too_low",
        "not_held",
        "duplicate_decision",
        "price_unknown",
        "kill_switch_halt",
        "kill_switch_reduce_only",
        "risk_paused",
        "token_blacklisted",
        "token_not_whitelisted",
        "liquidity_out_of_range",
        "market_cap_out_of_range",
        # How its execution went.
        "hold",
        "position_not_open",
        "not_executed",
        "internal_error",
        "venue_error",
    ],
)
def test_every_strategist_reason_has_words(code):
    assert REASONS[code].endswith(".")
