"""htmx in a real browser: filtering and paging the closed trades swaps only the history
section (no page load), puts the filter in the address bar, and the back button brings the
previous rows back, all under the content security policy."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.dashboard.factories import make_agent, make_closed_trade, make_wallet
from tests.dashboard.test_browser import _log_in, _policy_violations, _wait, browser  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def _row_ids(driver) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#trades tr[data-position-id]')]"
        ".map(row => row.dataset.positionId);"
    )


def test_filters_and_pages_swap_the_rows_without_a_page_load(
    browser,  # noqa: F811
    live_engine,
    user,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    agent = make_agent(user, name="History")
    wallet = make_wallet(agent)
    day = datetime(2025, 3, 10, 12, tzinfo=UTC)
    made = [
        make_closed_trade(
            agent, wallet, symbol=f"T{n}", profit_loss="0.1", closed_at=day + timedelta(days=n)
        )
        for n in range(3)
    ]
    stop = make_closed_trade(
        agent, wallet, symbol="LOSS", profit_loss="-0.2", closed_at=day + timedelta(days=5)
    )
    base = f"http://{live_engine}"
    _log_in(browser, base, user)
    url = base + reverse("dashboard-trades", args=[agent.pk])
    browser.get(url + "?limit=2")
    _wait(browser, lambda d: d.execute_script("return window.htmx !== undefined"), "htmx to load")
    # A page load would drop this mark; a swap keeps it.
    browser.execute_script("window.sameDocument = true;")
    assert _row_ids(browser) == [str(stop.position_id), str(made[2].position_id)]

    browser.find_element(By.CSS_SELECTOR, "#history a[rel=next]").click()
    _wait(
        browser,
        lambda d: _row_ids(d) == [str(made[1].position_id), str(made[0].position_id)],
        "the next page's rows",
    )
    assert "offset=2" in browser.current_url

    Select(browser.find_element(By.NAME, "reason")).select_by_value("stop_loss")
    browser.find_element(By.CSS_SELECTOR, "#history form.filters button[type=submit]").click()
    _wait(browser, lambda d: _row_ids(d) == [str(stop.position_id)], "the filtered rows")
    assert "reason=stop_loss" in browser.current_url
    csv_link = browser.find_element(By.ID, "csv-export").get_attribute("href")
    assert "reason=stop_loss" in csv_link
    assert browser.execute_script("return window.sameDocument === true")

    browser.back()
    _wait(
        browser,
        lambda d: _row_ids(d) == [str(made[1].position_id), str(made[0].position_id)],
        "the back button to bring the previous page's rows back",
    )
    assert _policy_violations(browser) == []
