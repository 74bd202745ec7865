"""The management pages in a real browser at a phone's width (390 px): no page scrolls
sideways, nothing breaks the content security policy, and the config page draws its charts."""

from decimal import Decimal

import pytest
from django.urls import reverse

from agents.models import NotificationEvent
from agents.notification_services import notification_channel_create
from tests.dashboard.test_browser import (  # noqa: F401
    SCREENSHOTS,
    _log_in,
    _policy_violations,
    _wait,
    boxes_scrolling_sideways,
    browser,
    save_page,
)
from wallets.services import wallet_assign, wallet_create_live

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


def _page_width(driver) -> tuple[int, int]:
    return driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];"
    )


def test_every_management_page_fits_a_phone(browser, live_engine, localnet, user, agent):  # noqa: F811
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    wallet_assign(wallet=wallet_create_live(owner=user), agent=agent)
    notification_channel_create(
        owner=user,
        label="Phone on the night shift",
        url=localnet.notify_url("phone"),
        events=NotificationEvent.values,
    )
    base = f"http://{live_engine}"
    _log_in(browser, base, user)
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)

    for name, args in (
        ("dashboard-home", []),
        ("dashboard-agent-new", []),
        ("dashboard-agent-settings", [agent.pk]),
        ("dashboard-agent-config", [agent.pk]),
        ("dashboard-agent-wallet", [agent.pk]),
        ("dashboard-api-keys", []),
        ("dashboard-notifications", []),
        ("dashboard-signals", []),
        ("dashboard-system", []),
    ):
        browser.get(base + reverse(name, args=args))
        _wait(browser, lambda d: d.execute_script("return document.readyState") == "complete", name)
        scroll_width, client_width = _page_width(browser)
        assert scroll_width <= client_width, f"{name} scrolls sideways: {scroll_width} px"

    assert _policy_violations(browser) == []


def test_the_config_charts_are_drawn_and_follow_the_form(browser, live_engine, user, agent):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base = f"http://{live_engine}"
    _log_in(browser, base, user)
    browser.get(base + reverse("dashboard-agent-config", args=[agent.pk]))
    drawn = "const c = document.getElementById(arguments[0]);return c.toDataURL();"
    _wait(browser, lambda d: d.find_elements(By.ID, "stop-loss-chart"), "the stop-loss chart")
    fixed = browser.execute_script(drawn, "stop-loss-chart")
    blank = browser.execute_script(
        "const c = document.createElement('canvas');"
        "const s = document.getElementById('stop-loss-chart');"
        "c.width = s.width; c.height = s.height; return c.toDataURL();"
    )

    Select(browser.find_element(By.NAME, "stop_loss.mode")).select_by_value("zones")

    assert fixed != blank
    _wait(
        browser,
        lambda d: d.execute_script(drawn, "stop-loss-chart") != fixed,
        "the curve to be redrawn for the zones mode",
    )
    assert browser.execute_script(drawn, "take-profit-chart") != blank
    assert _policy_violations(browser) == []


# Every dashboard page, with rows in its tables: (screenshot name, URL name, args by key).
PAGES = (
    ("home", "dashboard-home", ()),
    ("agent-new", "dashboard-agent-new", ()),
    ("agent", "dashboard-agent", ("agent",)),
    ("position", "dashboard-position", ("agent", "position")),
    ("position-close", "dashboard-position-close", ("agent", "position")),
    ("risk-pause-end", "dashboard-risk-pause-end", ("agent", "pause")),
    ("trades", "dashboard-trades", ("agent",)),
    ("transactions", "dashboard-transactions", ("agent",)),
    ("config", "dashboard-agent-config", ("agent",)),
    ("wallet", "dashboard-agent-wallet", ("agent",)),
    ("settings", "dashboard-agent-settings", ("agent",)),
    ("signals", "dashboard-signals", ()),
    ("api-keys", "dashboard-api-keys", ()),
    ("notifications", "dashboard-notifications", ()),
    ("system", "dashboard-system", ()),
)


def _a_refusal_arrives_live_in_words(driver, user, token):
    """A buy refused while the agent page is open: its row arrives over the socket, with the
    reason in the words the server renders (signals_app.reasons), not as a code."""
    from selenium.webdriver.common.by import By

    from signals_app.models import SignalExecution
    from signals_app.reasons import reason_text
    from signals_app.services import signal_create
    from signals_app.tasks import signal_received

    _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#ws-status[data-state=live]"),
        "the agent page's socket to go live",
    )
    signal, _ = signal_create(
        owner=user, token_address=token, signal_type="breakout", signal_strength=4
    )
    signal_received(signal)
    cells = f"#signal-executions tr[data-signal-id='{signal.pk}'] td.reason"
    shown = _wait(
        driver,
        lambda d: [cell.text for cell in d.find_elements(By.CSS_SELECTOR, cells)],
        "the refused buy's row",
    )
    execution = SignalExecution.objects.get(signal=signal)
    assert execution.status == "failed" and execution.reason
    assert shown == [reason_text(execution.reason)]


def test_every_page_with_rows_fits_a_phone_as_cards(
    browser,  # noqa: F811
    live_engine,
    market,
    user,
    agent,
    wallet,
    api_key,
):
    from selenium.webdriver.common.by import By

    from signals_app.services import signal_create
    from signals_app.tasks import signal_received
    from tests.dashboard.factories import make_risk_pause
    from trading.ledger_services import balance_deposit
    from trading.services import position_buy, position_close

    user.is_staff = True
    user.save(update_fields=["is_staff"])
    wallet_assign(wallet=wallet_create_live(owner=user), agent=agent)
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    held, sold = (
        market.add_token(
            symbol=symbol, price_sol=Decimal("0.004"), decimals=6, liquidity_sol=Decimal("3000")
        )
        for symbol in ("HELD", "SOLD")
    )
    position = position_buy(
        agent=agent, wallet=wallet, token_address=held, token_symbol="HELD"
    ).position
    closing = position_buy(agent=agent, wallet=wallet, token_address=sold, token_symbol="SOLD")
    position_close(position_id=closing.position.pk, reason="manual")
    signal, _ = signal_create(
        owner=user, token_address=held, signal_type="breakout", signal_strength=4, symbol="HELD"
    )
    signal_received(signal)
    base = f"http://{live_engine}"
    _log_in(browser, base, user)
    # A token too thin for the venue to fill: the refusal reaches the agent page live, in words.
    thin = market.add_token(
        symbol="THIN", price_sol=Decimal("0.004"), decimals=6, liquidity_sol=Decimal("0.01")
    )
    browser.get(f"{base}{reverse('dashboard-agent', args=[agent.pk])}")
    _a_refusal_arrives_live_in_words(browser, user, thin)
    # A guard's pause: its banner on the agent page, and the page that lifts it.
    pause = make_risk_pause(agent, reason="stop_loss_cooldown", hours=2)
    ids = {"agent": agent.pk, "position": position.pk, "pause": pause.pk}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    problems = []
    for width in (1400, 390):
        if width == 390:
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        else:
            browser.set_window_size(width, 900)
        for name, url_name, keys in PAGES:
            browser.get(base + reverse(url_name, args=[ids[key] for key in keys]))
            _wait(
                browser,
                lambda d: d.execute_script("return document.readyState") == "complete",
                name,
            )
            if name == "agent":
                _wait(
                    browser,
                    lambda d: d.find_elements(
                        By.CSS_SELECTOR, "#open-positions tr[data-position-id]"
                    ),
                    "the open position's card",
                )
            if name == "config":
                browser.find_element(By.NAME, "prices").send_keys("0.004\n0.005\n0.0026")
                button = browser.find_element(By.CSS_SELECTOR, "button[value=preview]")
                browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
                button.click()
                _wait(
                    browser,
                    lambda d: d.find_elements(By.ID, "preview-actions"),
                    "the preview's actions",
                )
                preview = browser.find_element(By.ID, "preview")
                preview.screenshot(str(SCREENSHOTS / f"page-config-preview-{width}.png"))
            save_page(browser, SCREENSHOTS / f"page-{name}-{width}.png")
            scroll_width, client_width = _page_width(browser)
            if scroll_width > client_width:
                problems.append(f"{name} scrolls sideways at {width} px: {scroll_width} px")
            problems += [f"{name} at {width}: {w}" for w in boxes_scrolling_sideways(browser)]

    assert not problems, "\n".join(problems)
    assert _policy_violations(browser) == []
