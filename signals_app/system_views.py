"""The system page: the market-data sources and how fresh their data is (what GET
data-sources/status reports), SOL/USD, the tick's lag, the signal work waiting, the kill switch
(set through the kill switch service, as PUT risk/kill-switch does: staff only), and the
versions running. The figures refresh themselves every 10 s (htmx): the system has no socket
of its own, as an agent has."""

import platform
from datetime import UTC, datetime
from importlib import metadata

import django
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from prices.selectors import data_sources_status
from signals_app.selectors import signals_unfinished
from trading.models import KillSwitchMode
from trading.risk_selectors import kill_switch_get
from trading.risk_services import kill_switch_set

# Work that waited longer than this counts in the queue shown.
QUEUE_WAITED_SECONDS = 5
QUEUE_SHOWN = 1000


class KillSwitchForm(forms.Form):
    mode = forms.ChoiceField(choices=KillSwitchMode.choices)
    note = forms.CharField(max_length=500, required=False)


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


def _versions() -> dict[str, str]:
    return {
        "Nexgent": metadata.version("nexgent"),
        "Python": platform.python_version(),
        "Django": django.get_version(),
    }


@login_required
@require_http_methods(["GET"])
def system_page(request: HttpRequest) -> HttpResponse:
    now = datetime.now(UTC)
    status = data_sources_status()
    tick = status["last_tick"]
    unfinished = signals_unfinished(waited_seconds=QUEUE_WAITED_SECONDS, limit=QUEUE_SHOWN)
    providers = [
        {"status": provider, "last_success_age": _age(provider.last_success_at, now)}
        for provider in status["providers"]
    ]
    context = {
        "status": status,
        "providers": providers,
        "tick_age": _age(tick.finished_at, now) if tick else None,
        "stream_age": _age(status["hermes_stream"].last_event_at, now)
        if status["hermes_stream"]
        else None,
        "queue": {
            "signals": len(unfinished.signals),
            "buys": sum(len(agents) for agents in unfinished.pending.values()),
        },
        "kill_switch": kill_switch_get(),
        "kill_switch_modes": KillSwitchMode.choices,
        "versions": _versions(),
    }
    # Its refresh (htmx, every 10 s) takes only the figures; the back button the whole page.
    refresh = request.htmx and not request.htmx.history_restore_request
    template = "signals_app/_system_status.html" if refresh else "signals_app/system.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_POST
def kill_switch_page(request: HttpRequest) -> HttpResponse:
    """Setting the switch asks first: the confirm page posts again with confirm=1."""
    if not request.user.is_staff:
        raise PermissionDenied("the kill switch is for staff operators")
    form = KillSwitchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose halt, reduce only or off.")
        return redirect("dashboard-system")
    mode = form.cleaned_data["mode"]
    if not request.POST.get("confirm"):
        context = {"mode": mode, "label": KillSwitchMode(mode).label}
        return render(request, "signals_app/confirm_kill_switch.html", context)
    kill_switch_set(mode=mode, user=request.user, note=form.cleaned_data["note"])
    messages.success(request, f"Kill switch: {KillSwitchMode(mode).label}.")
    return redirect("dashboard-system")
