"""The AI strategist's pages in a real browser at a phone's width: the decisions page (a cycle
with a long reasoning and decisions with long token addresses) and the model's settings fit
390 px without scrolling sideways, under the content security policy."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from signals_app.models import StrategistCycle, StrategistDecision
from tests.dashboard.test_browser import _log_in, _policy_violations, browser  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

MINT = "So11111111111111111111111111111111111111112"


def test_the_strategist_pages_fit_a_phone(browser, live_engine, user, agent):  # noqa: F811
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    cycle = StrategistCycle.objects.create(
        agent=agent,
        slot=moment,
        started_at=moment,
        status="done",
        model="a-model-with-a-rather-long-name-for-a-phone",
        reasoning="Momentum and liquidity both look strong for this token. " * 12,
    )
    StrategistDecision.objects.create(
        cycle=cycle,
        index=0,
        action="open",
        token_address=MINT,
        size_sol=Decimal("0.123456789"),
        stop_price=Decimal("0.000000123456789"),
        take_profit_price=Decimal("0.000000223456789"),
        confidence=Decimal("0.75"),
        reasoning="A long reason for the decision, " * 8,
        verdict="refused",
        verdict_reason="take_profit_not_above_price",
        outcome="skipped",
    )
    StrategistCycle.objects.create(
        agent=agent,
        slot=datetime(2026, 1, 2, tzinfo=UTC),
        started_at=moment,
        status="wait",
        reason="model_rate_limited",
    )
    base = f"http://{live_engine}"
    _log_in(browser, base, user)
    browser.set_window_size(390, 2400)
    screenshots = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)

    for name, path in (
        ("decisions", reverse("dashboard-agent-decisions", args=[agent.pk])),
        ("llm-settings", reverse("dashboard-llm-settings")),
    ):
        browser.get(base + path)
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        ), f"{path} scrolls sideways at 390 px"
        browser.save_screenshot(str(screenshots / f"{name}-390.png"))

    assert _policy_violations(browser) == []
