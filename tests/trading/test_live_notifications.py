"""A live trade that fails is told to its owner's channels (docs/notifications.md), over real
HTTP to localnet's notification sink: once per action, however often the engine retries it."""

import pytest

from agents.notification_services import notification_channel_create
from tests.trading.live_support import buy
from trading.live import SwapFailed
from trading.models import CloseReason, Position, PositionStatus
from trading.tasks import position_exit

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_exit_that_keeps_failing_is_told_once_and_the_position_stays_open(
    chain, localnet, user, live_agent, live_wallet, token
):
    notification_channel_create(
        owner=user, label="Phone", url=localnet.notify_url("live"), events=["live_trade_failed"]
    )
    position = buy(live_agent, live_wallet, token).position

    for _ in range(2):  # the tick decides the exit again after a failure
        chain.inject_slippage()
        position_exit(position.pk, CloseReason.STOP_LOSS, str(position.remaining_amount))

    assert Position.objects.get(pk=position.pk).status == PositionStatus.OPEN
    (told,) = localnet.notifications("live")
    assert told["title"] == f"Live: Live sell failed: {token[:6]}… (slippage_exceeded)"
    assert f"A live sell of token {token} did not go through" in told["message"]


def test_a_failed_live_buy_is_told_only_to_the_channels_subscribed(
    chain, localnet, user, live_agent, live_wallet, token
):
    for sink, events in (("failures", ["live_trade_failed"]), ("trades", ["trade_opened"])):
        notification_channel_create(
            owner=user, label=sink, url=localnet.notify_url(sink), events=events
        )
    chain.inject_slippage()

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token)

    assert failed.value.code == "slippage_exceeded"
    (told,) = localnet.notifications("failures")
    assert told["title"] == f"Live: Live buy failed: {token[:6]}… (slippage_exceeded)"
    assert localnet.notifications("trades") == []
