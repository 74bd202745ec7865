"""The whole product run from the dashboard in a real browser (headless Chromium), on a desktop
and on a 390 px phone: log in, create an agent, deposit simulated SOL, create an API key, send
a test signal, watch the bought position tick live, edit the config, close the position, and
see the closed trade and the performance cards change. Only the fake market is moved from the
test; every step is a click or a keystroke, and the database is only read to check results."""

import re
from decimal import Decimal

import pytest

from agents.models import Agent, ApiKey
from tests.dashboard.test_browser import (  # noqa: F401
    SCREENSHOTS,
    _log_in,
    _policy_violations,
    _wait,
    boxes_scrolling_sideways,
    browser,
    save_page,
)
from trading.models import ClosedTrade, Position

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
# The performance cards compared before and after the close (data-figure on each card).
FIGURES = ("equity_sol", "realised_pnl_sol", "win_rate_percent")


class Flow:
    """The browser at one width: each step ends with a screenshot and a check that the page
    does not scroll sideways."""

    def __init__(self, driver, base: str, width: int):
        self.driver, self.base, self.width = driver, base, width
        self.step = 0

    def get(self, path: str):
        self.driver.get(self.base + path)
        self.loaded(path)

    def loaded(self, what: str):
        _wait(
            self.driver,
            lambda d: d.execute_script("return document.readyState") == "complete",
            f"{what} to load",
        )

    def by(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def type(self, css: str, text: str):
        field = self.by(css)
        field.clear()
        field.send_keys(text)

    def follow(self, css: str):
        """Click a link or a form's button and wait for the page it leads to: a mark left on this
        document is gone once the browser shows the next one."""
        self.driver.execute_script("window.flowLeaving = true")
        button = self.by(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
        button.click()
        _wait(
            self.driver,
            lambda d: not d.execute_script("return window.flowLeaving === true"),
            f"{css} to lead to the next page",
        )
        self.loaded(css)

    def done(self, name: str):
        self.step += 1
        fits = self.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        save_page(self.driver, SCREENSHOTS / f"flow-{self.width}-{self.step:02d}-{name}.png")
        assert fits[0] <= fits[1], f"{name} scrolls sideways at {self.width} px: {fits}"
        assert boxes_scrolling_sideways(self.driver) == [], f"{name} at {self.width} px"

    def message(self) -> str:
        return " ".join(alert.text for alert in self.all(".alert.ok, .alert.success"))


def _cards(flow: Flow) -> dict:
    figures = {name: flow.by(f"#performance [data-figure='{name}']") for name in FIGURES}
    values = {name: card.get_attribute("data-value") for name, card in figures.items()}
    values["trade_count"] = flow.by("#performance").get_attribute("data-trade-count")
    return values


def _cell(flow: Flow, position_id: str, css: str) -> str:
    cells = flow.all(f"#open-positions tr[data-position-id='{position_id}'] {css}")
    return cells[0].text if cells else ""


@pytest.mark.parametrize("width", [1400, 390])
def test_a_person_runs_the_product_from_the_dashboard(
    browser,  # noqa: F811
    live_engine,
    market,
    user,
    width,
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if width == 390:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    else:
        browser.set_window_size(width, 900)
    flow = Flow(browser, f"http://{live_engine}", width)

    # Log in.
    flow.get("/login/")
    flow.done("login")
    _log_in(browser, flow.base, user)
    flow.loaded("the home page")
    flow.done("logged-in")

    # Create an agent from the home page's button.
    flow.follow("#new-agent")
    flow.type("#agent-new input[name=name]", "Flow")
    flow.done("new-agent")
    flow.follow("#agent-new button[type=submit]")
    match = re.search(r"/agents/(\d+)/$", browser.current_url)
    assert match, browser.current_url
    agent = Agent.objects.get(pk=int(match.group(1)), owner=user)
    assert agent.name == "Flow" and agent.trading_mode == "simulation"
    assert "automated trading on" in flow.by(".agent-head").text
    flow.done("agent-created")

    # Deposit simulated SOL on the wallet page.
    flow.follow(".agent-links a[href$='/wallet']")
    flow.by("#transfer input[name=kind][value=DEPOSIT]").click()
    flow.type("#transfer input[name=amount]", "5")
    flow.follow("#transfer button[type=submit]")
    assert "Deposited 5 SOL" in flow.message()
    assert "5" in flow.by("#balances").text
    flow.done("deposited")

    # Create an API key: shown once, then only its prefix.
    flow.get("/api-keys/")
    flow.type("#api-key-new input[name=name]", "provider")
    flow.by("#api-key-new input[name=scopes][value=signals]").click()
    flow.follow("#api-key-new button[type=submit]")
    raw_key = flow.by("#new-key code.secret").text
    key = ApiKey.objects.get(owner=user, name="provider")
    assert key.prefix in raw_key and len(raw_key) > 40
    assert key.scopes == ["signals"]
    flow.done("api-key-shown-once")
    flow.get("/api-keys/")
    assert not flow.all("#new-key") and raw_key not in browser.page_source
    assert flow.all(f"#api-keys tr[data-key-id='{key.pk}']")

    # Send a test signal for a token on the market.
    token = market.add_token(
        symbol="FLOW", price_sol=Decimal("0.004"), decimals=6, liquidity_sol=Decimal("3000")
    )
    flow.get("/signals/")
    flow.type("#test-signal input[name=token_address]", token)
    flow.type("#test-signal input[name=symbol]", "FLOW")
    flow.type("#test-signal input[name=signal_strength]", "5")
    flow.follow("#test-signal button[type=submit]")
    assert "Sent test signal #" in flow.message()
    flow.done("signal-sent")

    # The agent buys it: the position appears live, and its price ticks with the market.
    flow.get(f"/agents/{agent.pk}/")
    _wait(
        browser,
        lambda d: flow.by("#ws-status").get_attribute("data-state") == "live",
        "the WebSocket to go live",
    )
    row = _wait(
        browser,
        lambda d: flow.all("#open-positions tr[data-position-id]"),
        "the bought position to appear among the open positions",
    )[0]
    position_id = row.get_attribute("data-position-id")
    assert "FLOW" in row.text
    # Until its first price reaches the page a new row shows a dash.
    _wait(
        browser,
        lambda d: re.fullmatch(r"[\d.]+", _cell(flow, position_id, ".current-price")),
        "the position's first price",
    )
    assert _cell(flow, position_id, ".pnl-sol").startswith("-")  # the buy's costs
    flow.done("position-open")
    market.set_price(token, market.price_sol(token) * Decimal("1.1"))
    # The row as the page formats it (6 significant digits): the new price, and a gain.
    expected = format(market.price_sol(token), ".6g")
    _wait(
        browser,
        lambda d: (
            _cell(flow, position_id, ".current-price") == expected
            and _cell(flow, position_id, ".pnl-sol").startswith("+")
        ),
        f"the position's price to tick to {expected} with a gain",
    )
    # The unrealised P/L card follows the same tick, with no reload: the row's gain.
    _wait(
        browser,
        lambda d: (
            flow.by("#performance [data-figure='unrealised_pnl_sol'] .value").text
            == _cell(flow, position_id, ".pnl-sol")
        ),
        "the unrealised P/L card to show the row's gain",
    )
    flow.done("position-ticked")

    # Edit one config value and save it.
    flow.follow(".agent-links a[href$='/config']")
    flow.type("#config-form input[name='risk.max_open_positions']", "10")
    flow.follow("#config-form button[name=action][value=save]")
    assert "Saved" in flow.message()
    assert (
        flow.by("#config-form input[name='risk.max_open_positions']").get_attribute("value") == "10"
    )
    agent.refresh_from_db()
    assert agent.config["risk"]["max_open_positions"] == 10
    flow.done("config-saved")

    # Close the position from the agent page, through its confirmation page.
    flow.get(f"/agents/{agent.pk}/")
    close = f"#open-positions tr[data-position-id='{position_id}'] .close-position"
    _wait(browser, lambda d: flow.all(close), "the position's close button")
    before = _cards(flow)
    assert before["trade_count"] == "0"
    flow.follow(close)
    assert flow.all("#confirm-close"), "the close confirmation page"
    flow.done("close-confirm")
    flow.follow("#confirm-close")
    assert re.search(rf"/agents/{agent.pk}/$", browser.current_url), browser.current_url
    assert "Closed FLOW" in flow.by(".messages").text
    trade = ClosedTrade.objects.get(position_id=int(position_id))
    assert trade.close_reason == "manual"
    assert Position.objects.get(pk=int(position_id)).status == "closed"
    # Read through _wait: the page's socket may re-render the row while it is read.
    closed_text = _wait(
        browser,
        lambda d: flow.by(f"#closed-trades tr[data-position-id='{position_id}']").text,
        "the closed trade's row",
    )
    assert "FLOW" in closed_text and "Manual" in closed_text
    assert not flow.all(f"#open-positions tr[data-position-id='{position_id}']")
    after = _cards(flow)
    assert after["trade_count"] == "1"
    for name in FIGURES:
        assert after[name] != before[name], f"the {name} card did not change: {before} {after}"
    assert Decimal(after["realised_pnl_sol"]) == trade.profit_loss_sol
    flow.done("position-closed")

    # The closed trade on the trades page, and the signal's decision on the signals page.
    flow.follow(".agent-links a[href$='/trades']")
    assert "FLOW" in flow.by("#trades").text
    flow.done("trades")
    flow.get("/signals/")
    assert "executed" in flow.by("#signals").text
    flow.done("signals-decided")

    assert _policy_violations(browser) == []
