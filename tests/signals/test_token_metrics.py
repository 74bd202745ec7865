"""Token-metric bounds (trading-rules.md section 2.4): metrics come from Jupiter Tokens v2
search on localnet, once per signal, only when a candidate agent sets a bound, within a
timeout; unknown metrics with a bound set make the agent ineligible. The search goes through
prices.providers like every market-data request: counted in metrics and in its status."""

import time
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from agents.services import agent_create
from localnet import jupiter_tokens
from prices import providers
from prices.services import token_metrics_fetch
from signals_app.models import SignalExecution
from signals_app.services import signal_create
from signals_app.tasks import signal_received
from trading.ledger_services import balance_deposit

pytestmark = pytest.mark.django_db
SEARCH = "/tokens/v2/search"
REQUESTS = "nexgent_price_provider_requests_total"
# WIF below: $0.15 a token x 1e9 supply = $150M market cap; a 2,000 SOL pool at $150 = $600k
# of liquidity; 4,000 holders unless a test sets them.
MARKET_CAP = Decimal("150000000")
LIQUIDITY_USD = Decimal("600000")


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="WIF", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("2000")
    )


def _funded_agent(owner, name, signals_config=None):
    agent = agent_create(owner=owner, name=name, config={"signals": signals_config or {}})
    balance_deposit(wallet=agent.wallets.get(mode="simulation"), amount=Decimal("10"))
    return agent


def _decisions(owner, token, capture) -> dict[str, tuple[str, str]]:
    with capture(execute=True):
        signal, _ = signal_create(
            owner=owner, token_address=token, signal_type="BUY", signal_strength=3
        )
        signal_received(signal)
    return {
        e.agent.name: (e.status, e.reason)
        for e in SignalExecution.objects.filter(signal=signal).select_related("agent")
    }


def _searches(market) -> int:
    return len(market.recorded("jupiter_tokens"))


def _requests(outcome: str) -> float:
    labels = {"provider": "jupiter_tokens", "outcome": outcome}
    return REGISTRY.get_sample_value(REQUESTS, labels) or 0.0


def test_localnet_search_answers_mint_information(localnet, market, token):
    import requests

    jupiter_tokens.holder_count_set(market, token, 1234)
    response = requests.get(f"{localnet.url}{SEARCH}", params={"query": token}, timeout=5)
    (entry,) = response.json()
    assert entry["id"] == token and entry["symbol"] == "WIF" and entry["decimals"] == 6
    assert Decimal(str(entry["mcap"])) == MARKET_CAP
    assert Decimal(str(entry["liquidity"])) == LIQUIDITY_USD
    assert entry["holderCount"] == 1234
    by_symbol = requests.get(f"{localnet.url}{SEARCH}", params={"query": "wif"}, timeout=5)
    assert [e["id"] for e in by_symbol.json()] == [token]


def test_localnet_search_of_an_unknown_mint_is_an_empty_array(localnet):
    import requests

    unknown = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    response = requests.get(f"{localnet.url}{SEARCH}", params={"query": unknown}, timeout=5)
    assert response.status_code == 200 and response.json() == []
    missing = requests.get(f"{localnet.url}{SEARCH}", timeout=5)
    assert missing.status_code == 400


def test_the_client_reads_market_cap_liquidity_and_holders(localnet, market, token):
    jupiter_tokens.holder_count_set(market, token, 77)
    metrics = token_metrics_fetch(token)
    assert (metrics.market_cap, metrics.liquidity_usd, metrics.holder_count) == (
        MARKET_CAP,
        LIQUIDITY_USD,
        77,
    )


def test_agents_inside_their_bounds_buy_and_the_others_say_which_bound(
    localnet, market, user, token, django_capture_on_commit_callbacks
):
    jupiter_tokens.holder_count_set(market, token, 500)
    _funded_agent(user, "Inside", {"market_cap_min": "1000000", "holder_count_max": 500})
    _funded_agent(user, "SmallCaps", {"market_cap_max": "1000000"})
    _funded_agent(user, "DeepPools", {"liquidity_min": "1000000"})
    _funded_agent(user, "Crowds", {"holder_count_min": 501})
    _funded_agent(user, "NoBounds")

    decisions = _decisions(user, token, django_capture_on_commit_callbacks)

    assert decisions == {
        "Inside": ("executed", ""),
        "SmallCaps": ("skipped", "market_cap_out_of_range"),
        "DeepPools": ("skipped", "liquidity_out_of_range"),
        "Crowds": ("skipped", "holder_count_out_of_range"),
        "NoBounds": ("executed", ""),
    }
    details = SignalExecution.objects.get(agent__name="SmallCaps").details
    assert details.keys() == {"market_cap"}
    assert Decimal(details["market_cap"]["value"]) == MARKET_CAP
    assert (details["market_cap"]["min"], details["market_cap"]["max"]) == (None, "1000000")
    assert _searches(market) == 1  # five agents, one request


def test_an_unknown_metric_with_a_bound_set_is_not_eligible(
    localnet, market, user, token, django_capture_on_commit_callbacks
):
    jupiter_tokens.holder_count_set(market, token, None)  # Jupiter leaves holderCount out
    _funded_agent(user, "Crowds", {"holder_count_min": 10})
    _funded_agent(user, "Caps", {"market_cap_min": "1"})

    decisions = _decisions(user, token, django_capture_on_commit_callbacks)

    assert decisions == {
        "Crowds": ("skipped", "token_metrics_unknown"),
        "Caps": ("executed", ""),
    }
    details = SignalExecution.objects.get(agent__name="Crowds").details
    assert details["holder_count"]["value"] is None


def test_a_token_jupiter_does_not_list_has_unknown_metrics(
    localnet, market, user, django_capture_on_commit_callbacks
):
    _funded_agent(user, "Caps", {"market_cap_min": "1"})
    unlisted = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    assert _decisions(user, unlisted, django_capture_on_commit_callbacks) == {
        "Caps": ("skipped", "token_metrics_unknown")
    }


def test_no_request_when_no_agent_sets_a_bound(
    localnet, market, user, token, django_capture_on_commit_callbacks
):
    _funded_agent(user, "NoBounds")
    # A bound on an agent that could not trade anyway does not cost a request either.
    agent_create(
        owner=user,
        name="Off",
        automated_trading_simulation=False,
        config={"signals": {"market_cap_min": "1"}},
    )
    decisions = _decisions(user, token, django_capture_on_commit_callbacks)
    assert decisions["NoBounds"] == ("executed", "")
    assert decisions["Off"] == ("skipped", "automation_off")
    assert _searches(market) == 0


def test_a_slow_answer_times_out_and_only_bounded_agents_are_skipped(
    localnet, market, user, token, settings, django_capture_on_commit_callbacks
):
    settings.TOKEN_METRICS_TIMEOUT_SECONDS = Decimal("0.3")
    jupiter_tokens.delay_next(market, 2.0)
    _funded_agent(user, "Caps", {"market_cap_min": "1"})
    _funded_agent(user, "NoBounds")

    started = time.monotonic()
    decisions = _decisions(user, token, django_capture_on_commit_callbacks)

    assert decisions == {
        "Caps": ("skipped", "token_metrics_unknown"),
        "NoBounds": ("executed", ""),
    }
    assert time.monotonic() - started < 1.5
    assert _searches(market) == 1


def test_an_explicit_tokens_url_is_used(localnet, market, token, settings):
    settings.JUPITER_TOKENS_URL = localnet.url
    settings.JUPITER_BASE_URL = "http://127.0.0.1:9/swap/v1"  # nothing listens there
    assert token_metrics_fetch(token).holder_count == 4000


def test_a_search_is_counted_and_shows_in_the_providers_status(localnet, market, token):
    before = _requests("ok")

    assert token_metrics_fetch(token) is not None

    assert _requests("ok") - before == 1
    status = providers.status(providers.JUPITER_TOKENS)
    assert status.last_success_at is not None
    assert (status.requests_in_window, status.budget, status.consecutive_failures) == (1, None, 0)


def test_a_timed_out_search_is_unknown_counted_and_not_retried(localnet, market, token, settings):
    settings.TOKEN_METRICS_TIMEOUT_SECONDS = Decimal("0.3")
    jupiter_tokens.delay_next(market, 2.0)
    before = _requests("timeout")
    started = time.monotonic()

    assert token_metrics_fetch(token) is None

    assert time.monotonic() - started < 1.5
    assert _requests("timeout") - before == 1
    assert _searches(market) == 1
    status = providers.status(providers.JUPITER_TOKENS)
    assert status.consecutive_failures == 1
    assert "no answer within 0.3 s" in status.last_error
