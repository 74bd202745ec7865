"""The dashboard in a real browser (headless Chromium): an operator logs in, opens the agent
page, and watches a position appear when a signal is bought and disappear into the closed
trades when the stop loss sells it, live over the WebSocket."""

import base64
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from nexgent.money import as_str
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_SECONDS = 30
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,900",
    ):
        options.add_argument(flag)
    # The console, to catch anything the content security policy blocked.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _wait(driver, condition, what):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # Live updates re-render rows: an element read mid-update is simply read again.
    wait = WebDriverWait(
        driver,
        WAIT_SECONDS,
        poll_frequency=0.1,
        ignored_exceptions=[StaleElementReferenceException],
    )
    return wait.until(condition, message=what)


def _policy_violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def _log_in(driver, base, user):
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/login/")
    driver.find_element(By.NAME, "email").send_keys(user.email)
    driver.find_element(By.NAME, "password").send_keys("pw-12345678")
    driver.find_element(
        By.CSS_SELECTOR, "form button[type=submit], form input[type=submit]"
    ).click()
    _wait(driver, lambda d: d.current_url.rstrip("/") == base, "the login to land on the home page")


def save_page(driver, path: Path) -> None:
    """A screenshot of the whole page, not only what fits the window: the closed trades and
    the cards above them in one picture."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


# What scrolls sideways inside the page: a table's box (.scroll) or any table wider than the
# space it is given.
_SIDEWAYS_JS = """
return [...document.querySelectorAll('.scroll, table, pre:not(.example)')]
  .filter((el) => el.scrollWidth > el.clientWidth + 1
    || el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .map((el) => (el.id || el.className || el.tagName) + ' ' + el.scrollWidth + '>' + el.clientWidth);
"""


def boxes_scrolling_sideways(driver) -> list[str]:
    """The tables (or their .scroll boxes) wider than the room they have, as "id width>room"."""
    return driver.execute_script(_SIDEWAYS_JS)


def _first_row(driver, selector):
    """(position id, text) of the first row matching, read in one go, or None."""
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, selector)
    if not rows:
        return None
    return rows[0].get_attribute("data-position-id"), rows[0].text


def test_position_appears_and_closes_live(
    browser, live_engine, market, user, agent, wallet, api_key, tmp_path
):
    from selenium.webdriver.common.by import By

    token = market.add_token(
        symbol="LIVE", price_sol=Decimal("0.004"), decimals=6, liquidity_sol=Decimal("3000")
    )
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    base = f"http://{live_engine}"

    _log_in(browser, base, user)

    browser.get(f"{base}/agents/{agent.pk}/")
    status = browser.find_element(By.ID, "ws-status")
    _wait(
        browser, lambda d: status.get_attribute("data-state") == "live", "the WebSocket to go live"
    )

    response = requests.post(
        f"{base}/api/v1/trading-signals",
        json={"token_address": token, "signal_type": "BUY", "signal_strength": 4, "symbol": "LIVE"},
        headers={"X-API-Key": api_key},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    position_id, row_text = _wait(
        browser,
        lambda d: _first_row(d, "#open-positions tr[data-position-id]"),
        "the bought position to appear in the open positions table",
    )
    assert "LIVE" in row_text
    browser.save_screenshot(str(tmp_path / "open.png"))

    realised = "#performance [data-figure='realised_pnl_sol']"
    assert browser.find_element(By.CSS_SELECTOR, realised).get_attribute("data-value") == "0"
    market.set_price(token, market.price_sol(token) * Decimal("0.5"))
    _wait(
        browser,
        lambda d: (
            not d.find_elements(
                By.CSS_SELECTOR, f"#open-positions tr[data-position-id='{position_id}']"
            )
        ),
        "the position to leave the open positions table",
    )
    # The closed trade changes the performance cards too, with no reload: the server's exact
    # figures, asked for again when the close arrived.
    _wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, realised).get_attribute("data-value") != "0",
        "the realised P/L card to take the stop loss",
    )
    _, closed_text = _wait(
        browser,
        lambda d: _first_row(d, f"#closed-trades tr[data-position-id='{position_id}']"),
        "the position to appear among the closed trades",
    )
    assert "stop" in closed_text.lower()
    screenshots = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(screenshots / "agent-closed.png"))
    trade = ClosedTrade.objects.get(position_id=int(position_id))
    assert trade.close_reason == "stop_loss"
    assert browser.find_element(By.CSS_SELECTOR, realised).get_attribute("data-value") == (
        as_str(trade.profit_loss_sol)
    )
    assert _policy_violations(browser) == []


def test_admin_and_api_docs_work_under_the_content_security_policy(
    browser, live_engine, user, agent
):
    from selenium.webdriver.common.by import By

    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    base = f"http://{live_engine}"
    _log_in(browser, base, user)

    browser.get(f"{base}/admin/agents/agent/{agent.pk}/change/")
    _wait(browser, lambda d: d.find_elements(By.NAME, "name"), "the admin's agent form")
    browser.get(f"{base}/api/docs/")
    _wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"),
        "Swagger UI to render the operations",
    )

    assert _policy_violations(browser) == []


def _charts_drawn_without_sideways_scroll(driver, url, chart_id, width):
    from selenium.webdriver.common.by import By

    driver.set_window_size(width, 900)
    driver.get(url)
    _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, f"#{chart_id} canvas"),
        f"a canvas in #{chart_id} at {width} px",
    )
    _wait(
        driver,
        lambda d: d.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        ),
        f"no horizontal scroll at {width} px",
    )
    return driver.execute_script("return [window.innerWidth, document.body.scrollWidth]")


def test_equity_and_price_charts_render_on_a_desktop_and_a_phone(
    browser, live_engine, market, user, agent, wallet
):
    from selenium.webdriver.common.by import By

    from trading.services import position_buy

    token = market.add_token(
        symbol="CHRT", price_sol=Decimal("0.004"), decimals=6, liquidity_sol=Decimal("3000")
    )
    balance_deposit(wallet=wallet, amount=Decimal("5"))
    # The moderate take-profit preset has four levels (trading-rules.md); DCA buys up to 3.
    agent.config = {"take_profit": {"enabled": True}, "dca": {"enabled": True}}
    agent.save(update_fields=["config"])
    position = position_buy(
        agent=agent, wallet=wallet, token_address=token, token_symbol="CHRT"
    ).position
    base = f"http://{live_engine}"
    _log_in(browser, base, user)
    screenshots = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)

    for width in (1400, 390):
        inner, _ = _charts_drawn_without_sideways_scroll(
            browser, f"{base}/agents/{agent.pk}/", "equity-chart", width
        )
        assert inner <= width
        _wait(
            browser,
            lambda d: d.find_elements(
                By.CSS_SELECTOR, f"#open-positions tr[data-position-id='{position.pk}'] a"
            ),
            "the open position's row with its links",
        )
        assert browser.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        ), f"the live positions scroll the page sideways at {width} px"
        row = f"#open-positions tr[data-position-id='{position.pk}']"
        progress = [
            browser.find_element(By.CSS_SELECTOR, f"{row} td.{name}").get_attribute("textContent")
            for name in ("take-profit", "dca")
        ]
        assert progress == ["0/4", "0/3"], progress
        browser.save_screenshot(str(screenshots / f"agent-{width}.png"))
        _charts_drawn_without_sideways_scroll(
            browser, f"{base}/agents/{agent.pk}/positions/{position.pk}", "price-chart", width
        )
        browser.save_screenshot(str(screenshots / f"position-{width}.png"))

    assert _policy_violations(browser) == []
