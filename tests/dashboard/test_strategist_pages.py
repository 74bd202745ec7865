"""The AI strategist's pages: an agent's decisions (cycles with reasons in words, the
strategist's closed trades beside the agent's others, its config in brief) and the operator's
model (saved through the API's service and checks, the key never shown, removed after a
confirm page)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from agents.services import agent_create
from signals_app.models import (
    LlmCredential,
    StrategistCycle,
    StrategistDecision,
    TradingSignal,
)
from signals_app.reasons import REASONS
from signals_app.strategist_services import llm_credential_set, llm_key_open
from tests.dashboard.factories import make_closed_trade, make_position, make_wallet

pytestmark = pytest.mark.django_db

KEY = "sk-page-secret-0123456789"


@pytest.fixture
def operator(client, user):
    client.force_login(user)
    return client


def _page(agent):
    return reverse("dashboard-agent-decisions", args=[agent.pk])


def _cycle(agent, minutes_ago, **fields):
    started = timezone.now() - timedelta(minutes=minutes_ago)
    return StrategistCycle.objects.create(
        agent=agent, slot=started, started_at=started, finished_at=started, **fields
    )


def _signal(agent, *, own):
    return TradingSignal.objects.create(
        owner=agent.owner,
        token_address="Mint" + str(TradingSignal.objects.count()),
        symbol="SIG",
        signal_type="AI" if own else "BUY",
        signal_strength=3,
        agent=agent if own else None,
        created_at=timezone.now(),
    )


def test_the_page_needs_a_login(client, agent):
    answer = client.get(_page(agent))

    assert answer.status_code == 302 and "/login" in answer["Location"]


def test_another_users_agent_is_a_404(operator, other_user):
    theirs = agent_create(owner=other_user, name="Theirs")

    assert operator.get(_page(theirs)).status_code == 404


def test_a_done_and_a_wait_cycle_show_their_reasons_in_words(operator, user, agent, wallet):
    agent.config = {"signals": {"decision_source": "ai"}}
    agent.save()
    position = make_position(agent, wallet, "MintOpened", symbol="OPND")
    done = _cycle(
        agent,
        10,
        status="done",
        model="my-model",
        prompt_tokens=1200,
        completion_tokens=340,
        cost_usd=Decimal("0.00123"),
        latency_ms=850,
        reasoning="Momentum is strong. " * 30,
    )
    StrategistDecision.objects.create(
        cycle=done,
        index=0,
        action="open",
        token_address="MintOpened",
        size_sol=Decimal("0.25"),
        stop_price=Decimal("0.0009"),
        take_profit_price=Decimal("0.0015"),
        confidence=Decimal("0.7"),
        verdict="accepted",
        outcome="executed",
        position=position,
    )
    StrategistDecision.objects.create(
        cycle=done,
        index=1,
        action="open",
        token_address="MintRefused",
        size_sol=Decimal("9"),
        verdict="refused",
        verdict_reason="size_above_limit",
        verdict_details={"size_sol": "9", "max_position_sol": "0.5"},
        outcome="skipped",
    )
    _cycle(agent, 5, status="wait", reason="model_timeout", error="no answer within 60 s")

    answer = operator.get(_page(agent))

    assert answer.status_code == 200
    body = answer.content.decode()
    assert escape(REASONS["model_timeout"]) in body
    assert escape(REASONS["size_above_limit"]) in body
    assert body.index(escape(REASONS["model_timeout"])) < body.index("my-model")  # newest first
    assert "1200 in, 340 out" in body and "0.00123 USD" in body and "850 ms" in body
    assert "<details" in body  # the long reasoning is folded
    assert 'class="grid cards decisions"' in body and 'data-label="Verdict"' in body
    assert reverse("dashboard-position", args=[agent.pk, position.pk]) in body
    assert "OPND" in body
    assert 'id="strategist-off"' not in body


def test_the_strategist_is_said_off_for_an_agent_of_posted_signals(operator, agent):
    body = operator.get(_page(agent)).content.decode()

    assert 'id="strategist-off"' in body
    assert reverse("dashboard-agent-config", args=[agent.pk]) in body
    assert 'id="no-model"' in body
    assert "No cycles yet." in body


def test_the_config_summary_shows_period_and_max_position(operator, agent):
    agent.config = {
        "signals": {"decision_source": "both"},
        "ai_strategist": {"period_minutes": 15, "max_position_sol": "0.75"},
    }
    agent.save()

    body = operator.get(_page(agent)).content.decode()

    assert 'id="decision-source">both<' in body
    assert "every 15 min" in body and "0.75 SOL" in body


def test_the_strategists_trades_are_split_from_the_others_with_exact_figures(
    operator, agent, wallet
):
    def trade(pnl, *, own=None):
        closed = make_closed_trade(agent, wallet, symbol="T", profit_loss=pnl)
        if own is not None:
            closed.position.signal = _signal(agent, own=own)
            closed.position.save()

    trade("0.5", own=True)
    trade("-0.2", own=True)
    trade("0.1", own=True)
    trade("-0.3", own=False)  # a posted signal
    trade("0.25")  # a manual buy
    # A trade of the agent's live wallet is not of its current (simulation) mode.
    make_closed_trade(agent, make_wallet(agent, "live"), symbol="LIVE", profit_loss="7")

    body = operator.get(_page(agent)).content.decode()

    strategist = _row(body, "strategist")
    others = _row(body, "others")
    # 2 wins of 3 (66.7 %), 0.5 - 0.2 + 0.1 = 0.4; 1 win of 2 (50 %), -0.3 + 0.25 = -0.05.
    assert '<td data-label="Trades" class="num" data-figure="count">3</td>' in strategist
    assert "66.7% (2/3)" in strategist and 'data-value="0.4"' in strategist
    assert '<td data-label="Trades" class="num" data-figure="count">2</td>' in others
    assert "50.0% (1/2)" in others and 'data-value="-0.05"' in others


def _row(body: str, opener: str) -> str:
    start = body.index(f'data-opener="{opener}"')
    return body[start : body.index("</tr>", start)]


def test_the_split_selector_computes_exact_decimals(agent, wallet):
    from signals_app.strategist_selectors import trades_by_opener

    for pnl in ("0.1", "0.2"):
        closed = make_closed_trade(agent, wallet, symbol="T", profit_loss=pnl)
        closed.position.signal = _signal(agent, own=True)
        closed.position.save()

    split = trades_by_opener(agent)

    assert split.strategist.realised_pnl_sol == Decimal("0.3")
    assert split.strategist.win_rate_percent == Decimal(100)
    assert split.others.count == 0 and split.others.win_rate_percent is None


def test_cycles_are_paged_with_limit_and_offset(operator, agent):
    for minutes in range(5):
        _cycle(agent, minutes, status="wait", reason="no_model", model=f"m{minutes}")

    first = operator.get(_page(agent), {"limit": 2}).content.decode()
    last = operator.get(_page(agent), {"limit": 2, "offset": 4}).content.decode()

    assert "m0<" in first and "m1<" in first and "m2<" not in first
    assert "offset=2" in first and 'rel="prev"' not in first
    assert "m4<" in last and 'rel="next"' not in last and "offset=2" in last


def test_the_agent_page_links_to_its_decisions(operator, agent):
    body = operator.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()

    assert _page(agent) in body
    assert reverse("dashboard-llm-settings") in body


# --- The model's settings page ------------------------------------------------------------------

SETTINGS = "dashboard-llm-settings"
FORM = {
    "base_url": "https://api.example.com/v1",
    "model": "gpt-test",
    "api_key": KEY,
    "response_format": "json_schema",
    "input_usd_per_million_tokens": "0.15",
    "output_usd_per_million_tokens": "0.6",
}


def test_the_settings_page_needs_a_login(client):
    assert client.get(reverse(SETTINGS)).status_code == 302


def test_saving_stores_the_model_and_never_shows_the_key(operator, user):
    answer = operator.post(reverse(SETTINGS), FORM)

    assert answer.status_code == 302
    stored = LlmCredential.objects.get(owner=user)
    assert (stored.model, llm_key_open(stored)) == ("gpt-test", KEY)
    assert stored.input_usd_per_million_tokens == Decimal("0.15")
    page = operator.get(reverse(SETTINGS)).content.decode()
    assert KEY not in page
    assert "A key is set" in page and 'type="password"' in page
    assert 'value="gpt-test"' in page and 'value="0.15"' in page


def test_an_empty_key_keeps_the_one_set(operator, user):
    llm_credential_set(owner=user, base_url="https://old.example/v1", model="old", api_key=KEY)

    answer = operator.post(reverse(SETTINGS), {**FORM, "api_key": "", "model": "new"})

    assert answer.status_code == 302
    stored = LlmCredential.objects.get(owner=user)
    assert (stored.model, llm_key_open(stored)) == ("new", KEY)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"model": ""}, "model"),
        ({"api_key": ""}, "api_key"),
        ({"response_format": "xml"}, "response_format"),
        ({"input_usd_per_million_tokens": "-2"}, "input_usd_per_million_tokens"),
    ],
)
def test_bad_input_is_shown_on_its_field_and_nothing_is_saved(operator, user, change, field):
    answer = operator.post(reverse(SETTINGS), {**FORM, **change})

    assert answer.status_code == 400
    assert field in answer.context["form"].errors
    assert KEY not in answer.content.decode()
    assert not LlmCredential.objects.filter(owner=user).exists()


def test_removing_asks_first_then_removes(operator, user):
    llm_credential_set(owner=user, base_url="https://x.example/v1", model="m", api_key=KEY)
    remove = reverse("dashboard-llm-remove")

    asked = operator.post(remove)
    assert asked.status_code == 200 and 'name="confirm"' in asked.content.decode()
    assert LlmCredential.objects.filter(owner=user).exists()

    done = operator.post(remove, {"confirm": "1"})
    assert done.status_code == 302
    assert not LlmCredential.objects.filter(owner=user).exists()
    assert operator.get(remove).status_code == 405


def test_prices_are_shown_back_in_plain_decimals(operator, user):
    llm_credential_set(
        owner=user,
        base_url="https://x.example/v1",
        model="m",
        api_key=KEY,
        input_usd_per_million_tokens=Decimal("100"),
        output_usd_per_million_tokens=Decimal("0.000001"),
    )

    page = operator.get(reverse(SETTINGS)).content.decode()

    assert 'value="100"' in page and 'value="0.000001"' in page
