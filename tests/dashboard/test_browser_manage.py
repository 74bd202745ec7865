"""The management pages in a real browser at a phone's width (390 px): no page scrolls
sideways, nothing breaks the content security policy, and the config page draws its charts."""

import pytest
from django.urls import reverse

from agents.models import NotificationEvent
from agents.notification_services import notification_channel_create
from tests.dashboard.test_browser import _log_in, _policy_violations, _wait, browser  # noqa: F401
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
