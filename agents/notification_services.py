"""Operators' notification channels and the notifications sent to them (docs/notifications.md).

`notify` is what the engine calls when something happens: it only queues a task, after the
caller's transaction commits, so a notification never slows, blocks or undoes a trade. The task
(`agents.tasks.notifications_send`) finds the channels subscribed to the event and sends
through Apprise, each channel on its own: a channel that fails records why on its row and the
others are still sent. The URL, which carries the service's credentials, is opened only there
and never written to a log or an error.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import apprise
from django.db import transaction
from rest_framework import status

from agents.models import Agent, NotificationChannel, NotificationEvent, User
from nexgent import sealing
from nexgent.api import DomainError
from nexgent.logs import redact

logger = logging.getLogger(__name__)

SEND_TASK = "agents.tasks.notifications_send"
# A channel's last error is for the operator to read, not a log: kept short.
ERROR_MAX_CHARS = 500
# Pieces of a URL at least this long are hidden from an error text: a token, a password, a
# webhook's secret path (shorter pieces are words like a host's parts or "json").
SECRET_PIECE_MIN_CHARS = 6
_URL_PIECES = re.compile(r"[/:@?&=#.,;+%]+")


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one channel's send went: `error` is empty when it was delivered."""

    channel_id: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def _now() -> datetime:
    return datetime.now(UTC)


def _context(owner_id: int) -> str:
    # The associated data: a URL's ciphertext copied onto another operator's channel won't open.
    return f"notification-channel:{owner_id}"


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(
        f"{field}: {message}",
        code="validation_error",
        details=[{"field": field, "message": message}],
    )


def _url_checked(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise _invalid("url", "required")
    if apprise.Apprise.instantiate(url) is None:
        # Never the URL itself in the answer: it may be a credential typed with one mistake.
        raise _invalid(
            "url",
            "Apprise cannot read this URL: check its scheme (tgram://, discord://, slack://, "
            "mailto://, json://, ...) and its parts",
        )
    return url


def _events_checked(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(NotificationEvent.values))
    if unknown or not events:
        raise _invalid(
            "events",
            f"unknown events: {', '.join(unknown)}" if unknown else "choose at least one event",
        )
    return [event for event in NotificationEvent.values if event in events]


def _sealed_url(url: str, owner_id: int) -> dict:
    try:
        sealed = sealing.seal(url.encode(), context=_context(owner_id))
    except sealing.SealingError as error:
        raise DomainError(
            error.message, code=error.code, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
        ) from None
    return {
        "url_scheme": url.split("://", 1)[0].lower()[:32],
        "url_ciphertext": sealed.ciphertext,
        "url_salt": sealed.salt,
        "url_nonce": sealed.nonce,
    }


def channel_url(channel: NotificationChannel) -> str:
    """The channel's URL in clear: for sending only, never to show or log."""
    sealed = sealing.Sealed(
        ciphertext=bytes(channel.url_ciphertext),
        salt=bytes(channel.url_salt),
        nonce=bytes(channel.url_nonce),
    )
    opened = sealing.unseal(
        sealed, context=_context(channel.owner_id), what=f"notification channel {channel.pk}"
    )
    return opened.decode()


def notification_channel_create(
    *, owner: User, label: str, url: str, events: list[str], enabled: bool = True
) -> NotificationChannel:
    """A new channel. The URL must be one Apprise can read (a validation error on `url`
    otherwise, and nothing is written); it is stored encrypted."""
    url = _url_checked(url)
    channel = NotificationChannel(
        owner=owner,
        label=(label or "").strip(),
        events=_events_checked(events),
        enabled=enabled,
        # Sealed before the transaction: scrypt takes tens of milliseconds.
        **_sealed_url(url, owner.pk),
    )
    channel.full_clean()
    with transaction.atomic():
        channel.save()
    return channel


def notification_channel_update(
    *,
    channel: NotificationChannel,
    label: str | None = None,
    url: str | None = None,
    events: list[str] | None = None,
    enabled: bool | None = None,
) -> NotificationChannel:
    """Change what is given; a new URL is checked and sealed as at creation, and clears the
    channel's last error (it was the old URL's)."""
    changed = []
    if label is not None:
        channel.label = label.strip()
        changed.append("label")
    if url is not None:
        for name, value in _sealed_url(_url_checked(url), channel.owner_id).items():
            setattr(channel, name, value)
        channel.last_error = ""
        changed += ["url_scheme", "url_ciphertext", "url_salt", "url_nonce", "last_error"]
    if events is not None:
        channel.events = _events_checked(events)
        changed.append("events")
    if enabled is not None:
        channel.enabled = enabled
        changed.append("enabled")
    channel.full_clean()
    if changed:
        with transaction.atomic():
            channel.save(update_fields=changed)
    return channel


def notification_channel_delete(*, channel: NotificationChannel) -> None:
    with transaction.atomic():
        channel.delete()


# --- Sending ---------------------------------------------------------------------------------


def notify(
    *, owner_id: int | None, event: str, title: str, body: str, agent_id: int | None = None
) -> None:
    """Tell `owner_id`'s channels subscribed to `event` (None: every operator's, for what
    concerns the whole engine, such as a data source down). With `agent_id`, the title names
    the agent (looked up by the task, off the caller's path). Queued after the caller's
    transaction commits, best effort: a notification that cannot be queued is logged and never
    undoes or fails the caller."""
    NotificationEvent(event)  # an unknown event is a programming error, caught here
    transaction.on_commit(
        lambda: notification_queue(
            owner_id=owner_id, event=event, title=title, body=body, agent_id=agent_id
        ),
        robust=True,
    )


def notification_queue(
    *, owner_id: int | None, event: str, title: str, body: str, agent_id: int | None = None
) -> None:
    """notify's queueing, now: for an event no transaction records (market data turning
    stale), whose caller may not even use the database. Best effort, as notify."""
    NotificationEvent(event)
    notification = {
        "owner_id": owner_id,
        "event": event,
        "title": title,
        "body": body,
        "agent_id": agent_id,
    }
    # The task by its registered name: agents.tasks imports this module (an edge above it).
    from nexgent.celery import app

    try:
        task = app.tasks.get(SEND_TASK)
        if task is None:
            # Once per process (a web process may not have imported the tasks yet): it runs
            # django.setup() again, which reconfigures logging, so not on every notification.
            app.loader.import_default_modules()
            task = app.tasks[SEND_TASK]
        task.delay(**notification)
    except Exception:
        logger.exception("could not queue the %s notification", notification["event"])


def notifications_send(
    *, owner_id: int | None, event: str, title: str, body: str, agent_id: int | None = None
) -> list[Delivery]:
    """Send to every enabled channel subscribed to `event` (of `owner_id`, or of everyone),
    each recording its outcome. Never raises for a channel's failure."""
    channels = NotificationChannel.objects.filter(enabled=True)
    if owner_id is not None:
        channels = channels.filter(owner_id=owner_id)
    # The subscribed ones picked here: JSON containment is not a lookup SQLite has, and an
    # operator has a handful of channels.
    subscribed = [channel for channel in channels if event in channel.events]
    if subscribed and agent_id is not None:
        name = Agent.objects.filter(pk=agent_id).values_list("name", flat=True).first()
        title = f"{name}: {title}" if name else title
    return [
        notification_channel_send(channel=channel, title=title, body=body) for channel in subscribed
    ]


def notification_channel_send(*, channel: NotificationChannel, title: str, body: str) -> Delivery:
    """Send one notification to one channel now and record the outcome on it (last_sent_at, or
    last_error without the URL). The test button's send, and each of notify's."""
    url = ""
    try:
        url = channel_url(channel)
        sender = apprise.Apprise()
        if not sender.add(url):
            error = "Apprise cannot read this channel's URL any more"
        else:
            result = sender.notify(body=body, title=title)
            error = "" if result else _failure_text(result, url)
    except Exception as exc:  # a channel's failure is its own: the others are still sent
        error = _scrubbed(f"{exc.__class__.__name__}: {exc}", url)
    _outcome_record(channel, error)
    if error:
        logger.warning(
            "notification channel %s (%s) failed: %s", channel.pk, channel.url_scheme, error
        )
    return Delivery(channel.pk, error)


def notification_channel_test(*, channel: NotificationChannel) -> Delivery:
    """Send a test notification to the channel now (the settings page's button, the admin's
    action): the operator sees at once whether the URL works."""
    return notification_channel_send(
        channel=channel,
        title="Nexgent test notification",
        body=f"This channel ({channel.label}) receives the engine's notifications.",
    )


def _failure_text(result, url: str) -> str:
    """What Apprise said went wrong (its warnings and errors of this call), with every part of
    the URL that could be a credential taken out."""
    messages = [
        entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")
    ]
    return _scrubbed(" ".join(messages) or "the service did not accept the notification", url)


def _scrubbed(text: str, url: str) -> str:
    if url:
        text = text.replace(url, "[url]")
        scheme = url.split("://", 1)[0]
        pieces = sorted(
            {
                piece
                for piece in _URL_PIECES.split(url)
                if len(piece) >= SECRET_PIECE_MIN_CHARS and piece != scheme
            },
            key=len,
            reverse=True,
        )
        for piece in pieces:
            text = text.replace(piece, "…")
    text = redact(text)
    return text[:ERROR_MAX_CHARS] or "failed"


def _outcome_record(channel: NotificationChannel, error: str) -> None:
    fields = {"last_error": error} if error else {"last_error": "", "last_sent_at": _now()}
    # An update of these fields alone: a concurrent edit of the channel's URL or events stands.
    NotificationChannel.objects.filter(pk=channel.pk).update(**fields)
    for name, value in fields.items():
        setattr(channel, name, value)
