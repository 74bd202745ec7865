import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from agents.models import TradingMode
from tests.dashboard.factories import (
    give_sol,
    make_agent,
    make_closed_trade,
    make_execution,
    make_position,
    make_wallet,
)

pytestmark = pytest.mark.django_db


def agent_row(body: str, agent_id: int) -> str:
    match = re.search(rf'<tr data-agent-id="{agent_id}">(.*?)</tr>', body, re.S)
    assert match, f"no row for agent {agent_id}"
    return match.group(1)


def test_anonymous_visitors_are_sent_to_login(client, user):
    agent = make_agent(user)

    for url in (reverse("dashboard-home"), reverse("dashboard-agent", args=[agent.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == f"{reverse('dashboard-login')}?next={url}"


def _dashboard_routes():
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and (entry.name or "").startswith("dashboard-"):
                yield entry.name, prefix + str(entry.pattern)

    return sorted(walk(get_resolver().url_patterns, ""))


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_dashboard_page_but_login_asks_an_anonymous_visitor_to_log_in(client, method):
    login = reverse("dashboard-login")
    checked = 0
    for name, pattern in _dashboard_routes():
        if name == "dashboard-login":
            continue
        path = "/" + re.sub(r"<int:[^>]+>", "1", re.sub(r"<str:[^>]+>", "x", pattern))
        response = getattr(client, method)(path)
        # Nothing of the page: a redirect to the login, or a refusal of the method.
        assert response.status_code in (302, 405), (name, response.status_code)
        if response.status_code == 302:
            assert response.url.startswith(login), (name, response.url)
        checked += 1
    assert checked >= 30


def test_home_lists_only_the_users_agents_with_their_sol_balance(client, user, other_user):
    mine = make_agent(user, name="Alpha")
    give_sol(make_wallet(mine), "12.5")
    theirs = make_agent(other_user, name="Intruder")
    give_sol(make_wallet(theirs), "99")
    client.force_login(user)

    body = client.get(reverse("dashboard-home")).content.decode()

    assert "Alpha" in body
    assert "Intruder" not in body
    assert "12.5000" in agent_row(body, mine.pk)
    assert reverse("dashboard-agent", args=[mine.pk]) in body
    assert 'href="/admin/"' in body
    assert 'href="/api/docs/"' in body


def test_home_shows_the_balance_of_the_current_modes_wallet(client, user):
    agent = make_agent(user, name="Live one", trading_mode=TradingMode.LIVE)
    give_sol(make_wallet(agent, mode="simulation"), "50")
    give_sol(make_wallet(agent, mode="live"), "0.75")
    client.force_login(user)

    row = agent_row(client.get(reverse("dashboard-home")).content.decode(), agent.pk)

    assert "0.7500" in row
    assert "50.0000" not in row
    assert "mode-live" in row


def test_home_shows_zero_when_the_wallet_has_no_sol_row(client, user):
    agent = make_agent(user)
    make_wallet(agent)
    client.force_login(user)

    row = agent_row(client.get(reverse("dashboard-home")).content.decode(), agent.pk)

    assert 'data-sol-balance="0"' in row


def test_home_counts_open_positions_only(client, user):
    agent = make_agent(user)
    wallet = make_wallet(agent)
    make_position(agent, wallet, "MintA")
    make_position(agent, wallet, "MintB")
    make_closed_trade(agent, wallet, symbol="OLD", profit_loss="0.1")
    client.force_login(user)

    row = agent_row(client.get(reverse("dashboard-home")).content.decode(), agent.pk)

    assert re.search(r'<td class="num" data-label="Open positions">2</td>', row)


def test_home_query_count_does_not_grow_with_agents(client, user, django_assert_max_num_queries):
    for index in range(5):
        agent = make_agent(user, name=f"Agent {index}")
        give_sol(make_wallet(agent), "1")
    client.force_login(user)

    # Session, user, agents, wallets' SOL and open positions, closed trades, the banner's checks.
    with django_assert_max_num_queries(9):
        assert client.get(reverse("dashboard-home")).status_code == 200


def test_agent_page_renders_trades_executions_and_socket_attributes(client, user):
    agent = make_agent(user, name="Alpha")
    wallet = make_wallet(agent)
    give_sol(wallet, "3.25")
    trade = make_closed_trade(
        agent, wallet, symbol="WINR", profit_loss="0.5", close_reason="take_profit"
    )
    make_closed_trade(agent, wallet, symbol="LOSR", profit_loss="-0.25")
    make_execution(
        agent, symbol="SIGX", signal_type="breakout", status="skipped", reason="max_open_positions"
    )
    client.force_login(user)

    response = client.get(reverse("dashboard-agent", args=[agent.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-agent-id="{agent.pk}"' in body
    assert f'data-ws-path="/ws/agents/{agent.pk}/"' in body
    for element_id in (
        "open-positions",
        "closed-trades",
        "signal-executions",
        "ws-status",
        "sol-balance",
    ):
        assert f'id="{element_id}"' in body
    assert "3.2500" in body
    assert f'data-position-id="{trade.position_id}"' in body
    assert "WINR" in body and "Take profit" in body and "+0.5000" in body
    assert "LOSR" in body and "-0.2500" in body and 'class="num neg"' in body
    assert "SIGX" in body and "breakout" in body
    assert 'data-reason="max_open_positions">The agent already has its maximum of open' in body
    assert "dashboard/app.js" in body


def test_agent_page_shows_only_the_last_20_closed_trades(client, user):
    agent = make_agent(user)
    wallet = make_wallet(agent)
    trades = [make_closed_trade(agent, wallet, symbol=f"T{i}", profit_loss="0") for i in range(22)]
    client.force_login(user)

    body = client.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()
    closed_table = body.split('id="closed-trades"')[1].split("</table>")[0]

    assert closed_table.count("data-position-id=") == 20
    # Newest first: the two oldest trades are the ones left out.
    assert f'data-position-id="{trades[-1].position_id}"' in closed_table
    assert f'data-position-id="{trades[0].position_id}"' not in closed_table


def test_another_users_agent_is_not_found(client, user, other_user):
    theirs = make_agent(other_user, name="Private")
    client.force_login(user)

    response = client.get(reverse("dashboard-agent", args=[theirs.pk]))

    assert response.status_code == 404


def test_executions_of_other_agents_are_not_shown(client, user):
    agent = make_agent(user, name="Alpha")
    sibling = make_agent(user, name="Beta")
    make_execution(sibling, symbol="ELSEWHERE", signal_type="breakout", status="executed")
    client.force_login(user)

    body = client.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()

    assert "ELSEWHERE" not in body
    assert "No signal executions yet." in body


def test_agent_page_uses_only_the_projects_own_assets(client, user):
    agent = make_agent(user)
    client.force_login(user)

    body = client.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', body)

    assert sorted(assets) == [
        "/static/dashboard/app.css",
        "/static/dashboard/app.js",
        "/static/dashboard/charts.css",
        "/static/dashboard/charts.js",
        "/static/vendor/htmx/htmx-2.0.11.min.js",
        "/static/vendor/lightweight-charts/lightweight-charts-5.2.1.standalone.production.js",
    ]
    assert all(finders.find(asset.removeprefix("/static/")) for asset in assets)


def test_no_template_comment_spans_lines():
    # Django's {# #} comments end at the line's end: one left open is printed on the page.
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    open_comments = [
        f"{path.relative_to(templates)}:{number}"
        for path in sorted(templates.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if line.count("{#") > line.count("#}")
    ]

    assert open_comments == []


def test_the_agent_page_prints_no_template_syntax(client, user, agent):
    # The `agent` fixture has its simulation wallet: the performance cards are on the page.
    client.force_login(user)

    body = client.get(reverse("dashboard-agent", args=[agent.pk])).content.decode()

    assert "{#" not in body and "{%" not in body
