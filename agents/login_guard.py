"""The one guard in front of every way to log in (REST API, dashboard, admin).

Three counters, all in the database (shared by every process), keyed by a keyed hash so the
table holds no email or address in clear:

- the throttle: at most LOGIN_ATTEMPTS_PER_MINUTE attempts per client address, whatever the
  email and whatever the outcome;
- the lockout: LOGIN_MAX_FAILURES failed logins for one email *from one address* lock that pair
  for LOGIN_LOCK_MINUTES. It is the same for an email that has no account, so the answer tells
  nothing about which accounts exist, and a stranger elsewhere cannot lock the operator out;
- the ceiling against distributed guessing: LOGIN_ACCOUNT_MAX_FAILURES failures for one email
  from all addresses within an hour lock that email for an hour, but only for addresses that
  have not logged in to it successfully in the last LOGIN_KNOWN_ADDRESS_DAYS days.

An IPv6 client is counted by its /64, which one subscriber usually holds whole. The design and
its limits are in docs/security.md.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from agents.models import LoginCounter

THROTTLE_WINDOW = timedelta(minutes=1)
ACCOUNT_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class LoginRefusal:
    """Why an attempt was refused before its password was looked at, and until when."""

    code: str  # "throttled" or "login_locked"
    until: datetime

    @property
    def retry_after_seconds(self) -> int:
        return max(1, int((self.until - timezone.now()).total_seconds()) + 1)

    @property
    def message(self) -> str:
        if self.code == "throttled":
            return "Too many login attempts from your address; try again in a minute."
        return (
            "Too many failed logins for this email from your address; "
            f"try again after {self.until:%H:%M} UTC."
        )


def client_address(request) -> str:
    """The address the ASGI server decided (it believes X-Forwarded-For only from the proxies
    in FORWARDED_ALLOW_IPS), reduced to its /64 for IPv6."""
    raw = (request.META.get("REMOTE_ADDR") or "") if request is not None else ""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def login_refusal(email: str, address: str) -> LoginRefusal | None:
    """Count this attempt against the address's throttle and say whether it may go on."""
    now = timezone.now()
    attempts, window_started = _count(_key("address", address), THROTTLE_WINDOW, now)
    if attempts > settings.LOGIN_ATTEMPTS_PER_MINUTE:
        return LoginRefusal("throttled", window_started + THROTTLE_WINDOW)
    locked_until = _locked_until(_key("pair", email, address), now)
    if locked_until is None and not _known_address(email, address, now):
        locked_until = _locked_until(_key("account", email), now)
    return LoginRefusal("login_locked", locked_until) if locked_until else None


def login_failed(email: str, address: str) -> None:
    now = timezone.now()
    lock = timedelta(minutes=settings.LOGIN_LOCK_MINUTES)
    _count(_key("pair", email, address), lock, now, settings.LOGIN_MAX_FAILURES, lock)
    _count(
        _key("account", email),
        ACCOUNT_WINDOW,
        now,
        settings.LOGIN_ACCOUNT_MAX_FAILURES,
        ACCOUNT_WINDOW,
    )


def login_succeeded(email: str, address: str) -> None:
    """Clear the pair's failures and remember the address as one this account logs in from."""
    now = timezone.now()
    LoginCounter.objects.filter(key=_key("pair", email, address)).delete()
    LoginCounter.objects.update_or_create(
        key=_key("known", email, address), defaults={"count": 0, "window_started": now}
    )


def login_counters_purge() -> int:
    """Delete counters idle for longer than an address stays known, unless still locking."""
    now = timezone.now()
    idle = now - timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS)
    deleted, _ = (
        LoginCounter.objects.filter(window_started__lt=idle).exclude(locked_until__gt=now).delete()
    )
    return deleted


def _key(scope: str, *parts: str) -> str:
    value = "\n".join(part.strip().lower() for part in parts)
    return salted_hmac(f"nexgent.login_guard.{scope}", value, algorithm="sha256").hexdigest()


def _count(
    key: str,
    window: timedelta,
    now: datetime,
    lock_at: int | None = None,
    lock_for: timedelta | None = None,
) -> tuple[int, datetime]:
    """Add one to the counter (restarting it when its window has passed); lock the key when
    the count reaches lock_at. Returns the count and when its window started."""
    with transaction.atomic():
        counter, _ = LoginCounter.objects.select_for_update().get_or_create(
            key=key, defaults={"count": 0, "window_started": now}
        )
        if counter.window_started + window <= now:
            counter.count, counter.window_started = 0, now
        counter.count += 1
        if lock_at is not None and counter.count >= lock_at:
            counter.locked_until = now + lock_for
            counter.count, counter.window_started = 0, now
        counter.save(update_fields=["count", "window_started", "locked_until"])
    return counter.count, counter.window_started


def _locked_until(key: str, now: datetime) -> datetime | None:
    until = LoginCounter.objects.filter(key=key).values_list("locked_until", flat=True).first()
    return until if until is not None and until > now else None


def _known_address(email: str, address: str, now: datetime) -> bool:
    since = now - timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS)
    return LoginCounter.objects.filter(
        key=_key("known", email, address), window_started__gt=since
    ).exists()
