"""Notifications through Apprise, tested over real HTTP: each channel's URL is a `json://` URL
of localnet's notification sink, which keeps every message it receives. The URL is stored
encrypted, sent to only where it was subscribed, after commit; a channel that fails records
why, without the URL, and never fails the trade."""

import logging
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from agents.models import NotificationChannel, NotificationEvent
from agents.notification_services import (
    channel_url,
    notification_channel_create,
    notification_channel_update,
)
from nexgent.api import DomainError
from nexgent.celery import app
from prices import clients
from prices.services import sol_usd_watch
from tests.harness import free_port
from tests.trading.risk_support import guarded_agent, losing_close, signal_for
from trading.services import position_buy, position_close

pytestmark = pytest.mark.django_db
ALL_EVENTS = list(NotificationEvent.values)
PROJECT_LOGGERS = ("", "nexgent", "agents", "trading", "signals_app", "prices", "wallets")


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="BONK", price_sol=Decimal("0.0001"), decimals=6, liquidity_sol=Decimal("1000")
    )


@pytest.fixture
def operator(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def logged():
    """Every line the project's handlers would write: the root's at its level (libraries'
    debug lines, such as urllib3's request lines, are not written), each app's at DEBUG."""

    class Keep(logging.Handler):
        def __init__(self):
            super().__init__(logging.DEBUG)
            self.lines: list[str] = []

        def emit(self, record):
            self.lines.append(self.format(record))

    # The tasks registered first, as the first notification of a process does: that runs
    # django.setup() again, whose logging configuration would drop this handler.
    app.loader.import_default_modules()
    keep = Keep()
    loggers = [logging.getLogger(name) for name in PROJECT_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(keep)
        if logger.name != "root":
            logger.setLevel(logging.DEBUG)
    yield keep
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(keep)
        logger.setLevel(level)


def _channel(owner, localnet, sink, events=ALL_EVENTS, label="Phone"):
    return notification_channel_create(
        owner=owner, label=label, url=localnet.notify_url(sink), events=events
    )


def _trade(agent, wallet, token, capture, *, reason="manual"):
    with capture(execute=True):
        position = position_buy(
            agent=agent,
            wallet=wallet,
            token_address=token,
            token_symbol="BONK",
            sol_amount=Decimal("1"),
        ).position
    with capture(execute=True):
        trade = position_close(position_id=position.pk, reason=reason)
    return position, trade


# --- Channels ----------------------------------------------------------------------------------


def test_the_url_is_stored_encrypted_and_opens_only_for_its_owner(user, localnet):
    url = localnet.notify_url("s3cr3t-webhook-path")
    channel = notification_channel_create(
        owner=user, label="Phone", url=url, events=["trade_opened"]
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM agents_notificationchannel")
        (row,) = cursor.fetchall()
    stored = [bytes(v) if isinstance(v, memoryview) else v for v in row]
    assert not any(url in str(value) or "s3cr3t" in str(value) for value in stored)
    assert not any(isinstance(v, bytes) and b"s3cr3t" in v for v in stored)
    assert channel.masked_url == "json://…"
    assert channel_url(NotificationChannel.objects.get(pk=channel.pk)) == url


@pytest.mark.parametrize("url", ["not a url", "nosuchservice://host/path", ""])
def test_a_url_apprise_cannot_read_is_refused_on_the_field_and_nothing_is_written(user, url):
    with pytest.raises(DomainError) as refused:
        notification_channel_create(owner=user, label="Phone", url=url, events=ALL_EVENTS)

    assert refused.value.code == "validation_error"
    assert [detail["field"] for detail in refused.value.details] == ["url"]
    assert not NotificationChannel.objects.exists()


def test_events_must_be_known_and_at_least_one(user, localnet):
    for events in ([], ["trade_opened", "moon_landing"]):
        with pytest.raises(DomainError) as refused:
            _channel(user, localnet, "x", events=events)
        assert refused.value.details[0]["field"] == "events"
    assert not NotificationChannel.objects.exists()


# --- Trades --------------------------------------------------------------------------------------


def test_trade_opened_and_closed_reach_only_the_owners_channels_subscribed_to_them(
    localnet, user, other_user, agent, funded_wallet, token, django_capture_on_commit_callbacks
):
    _channel(user, localnet, "trades", events=["trade_opened", "trade_closed"])
    _channel(user, localnet, "closes", events=["trade_closed"])
    _channel(user, localnet, "risk-only", events=["risk_guard_tripped"])
    _channel(other_user, localnet, "someone-else", events=ALL_EVENTS)

    position, trade = _trade(agent, funded_wallet, token, django_capture_on_commit_callbacks)

    opened, closed = localnet.notifications("trades")
    assert opened["title"] == "Alpha: Trade opened: BONK"
    assert f"Bought {position.total_tokens_bought.normalize():f} BONK" in opened["message"]
    assert f"for {position.total_invested_sol.normalize():f} SOL (simulation)" in opened["message"]
    assert closed["title"] == "Alpha: Trade closed: BONK (Manual)"
    assert f"P/L: {trade.profit_loss_sol.normalize():f} SOL" in closed["message"]
    assert "Reason: Manual." in closed["message"]
    assert localnet.notifications("closes") == [closed]
    assert localnet.notifications("risk-only") == []
    assert localnet.notifications("someone-else") == []
    assert NotificationChannel.objects.get(label="Phone", events=["trade_closed"]).last_sent_at


def test_a_disabled_channel_is_not_sent_to(
    localnet, user, agent, funded_wallet, token, django_capture_on_commit_callbacks
):
    channel = _channel(user, localnet, "off")
    notification_channel_update(channel=channel, enabled=False)

    _trade(agent, funded_wallet, token, django_capture_on_commit_callbacks)

    assert localnet.notifications("off") == []


def test_a_stop_in_profit_is_told_as_a_trailing_stop(
    localnet, market, user, agent, funded_wallet, token, django_capture_on_commit_callbacks
):
    _channel(user, localnet, "closes", events=["trade_closed"])
    with django_capture_on_commit_callbacks(execute=True):
        position = position_buy(
            agent=agent,
            wallet=funded_wallet,
            token_address=token,
            token_symbol="BONK",
            sol_amount=Decimal("1"),
        ).position
    market.set_price(token, Decimal("0.0002"))
    with django_capture_on_commit_callbacks(execute=True):
        position_close(position_id=position.pk, reason="stop_loss")

    (closed,) = localnet.notifications("closes")
    assert closed["title"] == "Alpha: Trade closed: BONK (Trailing stop)"
    assert "P/L: +" in closed["message"]


def test_nothing_is_sent_when_the_trade_rolls_back(
    localnet, user, agent, wallet, token, django_capture_on_commit_callbacks
):
    _channel(user, localnet, "trades")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
        position_buy(agent=agent, wallet=wallet, token_address=token, sol_amount=Decimal("1"))

    assert localnet.notifications("trades") == []


def test_a_failing_channel_records_why_and_the_trade_and_other_channels_go_on(
    localnet, user, agent, funded_wallet, token, django_capture_on_commit_callbacks, logged
):
    localnet.market.notify_sink.fail("refusing-s3cr3t-path", 500)
    refusing = _channel(user, localnet, "refusing-s3cr3t-path", label="Refusing")
    unreachable = notification_channel_create(
        owner=user,
        label="Gone",
        url=f"json://127.0.0.1:{free_port()}/s3cr3t-hook",
        events=ALL_EVENTS,
    )
    _channel(user, localnet, "working", label="Working")

    position, trade = _trade(agent, funded_wallet, token, django_capture_on_commit_callbacks)

    assert trade is not None and trade.position_id == position.pk
    assert len(localnet.notifications("working")) == 2
    refusing.refresh_from_db()
    unreachable.refresh_from_db()
    assert "error=500" in refusing.last_error and refusing.last_sent_at is None
    assert "Connection error" in unreachable.last_error
    assert "s3cr3t" not in refusing.last_error + unreachable.last_error
    lines = "\n".join(logged.lines)
    assert f"notification channel {refusing.pk} (json) failed" in lines
    assert "s3cr3t" not in lines


def test_a_url_refused_at_creation_is_never_logged(user, logged):
    with pytest.raises(DomainError) as refused:
        notification_channel_create(
            owner=user, label="Typo", url="tgramm://s3cr3t-bot-token/42", events=ALL_EVENTS
        )

    assert "s3cr3t" not in refused.value.message
    assert not any("s3cr3t" in line for line in logged.lines)


# --- Risk guards and market data -----------------------------------------------------------------


def test_a_risk_guard_is_told_once_when_it_trips(
    localnet, market, user, django_capture_on_commit_callbacks
):
    loser = market.add_token(
        symbol="RUG", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("5000")
    )
    target = market.add_token(
        symbol="WIF", price_sol=Decimal("0.002"), decimals=6, liquidity_sol=Decimal("5000")
    )
    agent, wallet = guarded_agent(user, {"daily_loss_limit_sol": "0.4"})
    _channel(user, localnet, "risk", events=["risk_guard_tripped"])
    losing_close(market, agent, wallet, loser)

    first = signal_for(user, agent, target, django_capture_on_commit_callbacks)
    second = signal_for(user, agent, target, django_capture_on_commit_callbacks)

    assert first.reason == second.reason == "risk_paused"
    (tripped,) = localnet.notifications("risk")
    assert tripped["title"] == "Guarded: Risk guard tripped: Daily loss limit"
    assert "New buys are paused until" in tripped["message"]
    assert "loss_today_sol" in tripped["message"]


def test_stale_sol_usd_is_told_once_to_every_operator_subscribed(
    localnet, user, other_user, django_capture_on_commit_callbacks
):
    _channel(user, localnet, "mine", events=["data_source_stale"])
    _channel(other_user, localnet, "theirs", events=["data_source_stale"])
    _channel(user, localnet, "trades-only", events=["trade_opened"])

    with django_capture_on_commit_callbacks(execute=True):
        assert sol_usd_watch() is True  # never fetched: unknown, so stale
        assert sol_usd_watch() is True

    (told,) = localnet.notifications("mine")
    assert told["title"] == "Data source stale or down: SOL/USD"
    assert "SOL/USD is unknown" in told["message"]
    assert localnet.notifications("theirs") == [told]
    assert localnet.notifications("trades-only") == []


def test_a_data_source_going_down_is_told_once(
    localnet, market, user, django_capture_on_commit_callbacks
):
    _channel(user, localnet, "data", events=["data_source_stale"])
    market.inject_fault("hermes", status=500, count=100)

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            with pytest.raises(clients.ExternalServiceError):
                clients.hermes_sol_usd()

    (down,) = localnet.notifications("data")
    assert down["title"] == "Data source stale or down: hermes"
    assert "3 failed calls in a row" in down["message"]


# --- The settings page ---------------------------------------------------------------------------


def test_the_page_adds_a_channel_and_lists_it_masked(operator, user, localnet):
    url = localnet.notify_url("s3cr3t-page")
    response = operator.post(
        reverse("dashboard-notifications"),
        {"label": "Phone", "url": url, "events": ["trade_opened", "trade_closed"]},
        follow=True,
    )

    body = response.content.decode()
    channel = NotificationChannel.objects.get(owner=user)
    assert channel.events == ["trade_opened", "trade_closed"]
    assert "Channel Phone added." in body
    assert "json://…" in body and "s3cr3t" not in body
    assert response["Cache-Control"] == "no-store"


def test_the_page_shows_an_unreadable_url_on_its_field_and_writes_nothing(operator):
    response = operator.post(
        reverse("dashboard-notifications"),
        {"label": "Phone", "url": "nosuchservice://x", "events": ["trade_opened"]},
    )

    assert response.status_code == 400
    assert "Apprise cannot read this URL" in str(response.context["form"].errors["url"])
    assert not NotificationChannel.objects.exists()


def test_the_test_button_delivers_and_says_so(operator, user, localnet):
    channel = _channel(user, localnet, "button")

    response = operator.post(reverse("dashboard-notification-test", args=[channel.pk]), follow=True)

    (sent,) = localnet.notifications("button")
    assert sent["title"] == "Nexgent test notification"
    assert "Test notification sent to Phone." in response.content.decode()


def test_the_test_button_says_why_a_channel_failed(operator, user, localnet):
    channel = _channel(user, localnet, "broken")
    localnet.market.notify_sink.fail("broken", 500)

    response = operator.post(reverse("dashboard-notification-test", args=[channel.pk]), follow=True)

    body = response.content.decode()
    assert "Test notification to Phone failed" in body and "error=500" in body


def test_delete_asks_first_then_deletes(operator, user, localnet):
    channel = _channel(user, localnet, "bye")
    url = reverse("dashboard-notification-delete", args=[channel.pk])

    asked = operator.post(url)
    assert asked.status_code == 200 and "Delete the channel Phone?" in asked.content.decode()
    assert NotificationChannel.objects.filter(pk=channel.pk).exists()

    done = operator.post(url, {"confirm": "1"})
    assert done.status_code == 302 and done.url == reverse("dashboard-notifications")
    assert not NotificationChannel.objects.filter(pk=channel.pk).exists()


def test_the_page_needs_a_login(client):
    response = client.get(reverse("dashboard-notifications"))

    assert response.status_code == 302 and "login" in response.url


def test_another_operators_channels_are_not_shown_and_cannot_be_touched(
    operator, other_user, localnet
):
    theirs = _channel(other_user, localnet, "theirs", label="Their phone")

    page = operator.get(reverse("dashboard-notifications")).content.decode()
    deleted = operator.post(
        reverse("dashboard-notification-delete", args=[theirs.pk]), {"confirm": "1"}
    )
    tested = operator.post(reverse("dashboard-notification-test", args=[theirs.pk]))

    assert "Their phone" not in page
    assert deleted.status_code == 404 and tested.status_code == 404
    assert NotificationChannel.objects.filter(pk=theirs.pk).exists()
    assert localnet.notifications("theirs") == []


def test_the_admin_shows_the_url_masked_only(client, user, localnet):
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(user)
    channel = _channel(user, localnet, "s3cr3t-admin-path")

    pages = [
        client.get(reverse("admin:agents_notificationchannel_changelist")),
        client.get(reverse("admin:agents_notificationchannel_change", args=[channel.pk])),
    ]

    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert "json://…" in body and "s3cr3t" not in body
