"""The agents app's pages: login and logout, a new agent, an agent's settings (name, automated
trading, mode, delete), the operator's API keys and notification channels. Every write goes through agents.services,
as the API's do. The dashboard's other pages live with the apps whose data they show."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from agents.backends import login_refusal_of
from agents.models import (
    Agent,
    ApiKey,
    ApiKeyScope,
    NotificationChannel,
    NotificationEvent,
    TradingMode,
)
from agents.notification_services import (
    notification_channel_create,
    notification_channel_delete,
    notification_channel_test,
)
from agents.services import (
    agent_create,
    agent_delete,
    agent_update,
    api_key_create,
    api_key_revoke,
)
from nexgent.api import DomainError
from nexgent.views import add_service_error

INVALID_LOGIN = "Invalid email or password."


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, request: HttpRequest, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = None

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if not email or not password:
            return cleaned
        # The same guard as the REST login and the admin: one throttle, one lockout.
        self.user = authenticate(self.request, username=email, password=password)
        if self.user is None:
            refusal = login_refusal_of(self.request)
            if refusal is not None:
                raise forms.ValidationError(refusal.message, code=refusal.code)
            raise forms.ValidationError(INVALID_LOGIN, code="invalid_login")
        return cleaned


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = LoginForm(request, data=request.POST)
        if form.is_valid():
            login(request, form.user)
            return redirect(_safe_next(request))
    elif request.user.is_authenticated:
        return redirect(_safe_next(request))
    else:
        form = LoginForm(request)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    return render(request, "agents/login.html", {"form": form, "next": next_url})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


def owned_agent(request: HttpRequest, agent_id: int) -> Agent:
    # Another user's agent is a 404, never a 403: its existence is not theirs to learn.
    return get_object_or_404(Agent, pk=agent_id, owner=request.user)


class AgentNameForm(forms.Form):
    name = forms.CharField(max_length=50, strip=True)


class AgentCreateForm(AgentNameForm):
    trading_mode = forms.ChoiceField(
        choices=TradingMode.choices, initial=TradingMode.SIMULATION, widget=forms.RadioSelect
    )


class AutomationForm(forms.Form):
    mode = forms.ChoiceField(choices=TradingMode.choices)
    on = forms.BooleanField(required=False)


class ModeForm(forms.Form):
    trading_mode = forms.ChoiceField(choices=TradingMode.choices)
    confirm = forms.BooleanField(required=False)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    scopes = forms.MultipleChoiceField(
        choices=ApiKeyScope.choices, widget=forms.CheckboxSelectMultiple
    )


def _saved(form: forms.Form, write) -> bool:
    """Run a service write; its refusal lands on the form's fields instead."""
    try:
        write()
    except (DomainError, ValidationError) as error:
        add_service_error(form, error)
        return False
    return True


@login_required
@require_http_methods(["GET", "POST"])
def agent_new(request: HttpRequest) -> HttpResponse:
    form = AgentCreateForm(request.POST or None)
    created: list[Agent] = []
    if form.is_valid() and _saved(
        form, lambda: created.append(agent_create(owner=request.user, **form.cleaned_data))
    ):
        return redirect("dashboard-agent", agent_id=created[0].pk)
    status = 400 if form.errors else 200
    return render(request, "agents/new.html", {"form": form}, status=status)


def _settings_page(request: HttpRequest, agent: Agent, **forms_given) -> HttpResponse:
    forms_shown = {
        "rename_form": AgentNameForm(initial={"name": agent.name}),
        "mode_form": ModeForm(initial={"trading_mode": agent.trading_mode}),
        **forms_given,
    }
    automation = [
        {
            "mode": value,
            "label": label,
            "on": agent.automated_trading_on(value),
        }
        for value, label in TradingMode.choices
    ]
    status = 200 if not forms_given else 400
    context = {"agent": agent, "automation": automation, **forms_shown}
    return render(request, "agents/settings.html", context, status=status)


@login_required
@require_http_methods(["GET"])
def agent_settings(request: HttpRequest, agent_id: int) -> HttpResponse:
    return _settings_page(request, owned_agent(request, agent_id))


@login_required
@require_POST
def agent_rename(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    form = AgentNameForm(request.POST)
    if form.is_valid() and _saved(
        form, lambda: agent_update(agent=agent, name=form.cleaned_data["name"])
    ):
        return redirect("dashboard-agent-settings", agent_id=agent.pk)
    agent.refresh_from_db()
    return _settings_page(request, agent, rename_form=form)


@login_required
@require_POST
def agent_automation(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    form = AutomationForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, agent, automation_form=form)
    field = f"automated_trading_{form.cleaned_data['mode']}"
    agent_update(agent=agent, **{field: form.cleaned_data["on"]})
    return redirect("dashboard-agent-settings", agent_id=agent.pk)


@login_required
@require_POST
def agent_mode(request: HttpRequest, agent_id: int) -> HttpResponse:
    """Switching the mode asks first: the next page confirms, then the switch is made."""
    agent = owned_agent(request, agent_id)
    form = ModeForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, agent, mode_form=form)
    mode = form.cleaned_data["trading_mode"]
    if not form.cleaned_data["confirm"]:
        context = {"agent": agent, "mode": mode, "mode_label": TradingMode(mode).label}
        return render(request, "agents/confirm_mode.html", context)
    if _saved(form, lambda: agent_update(agent=agent, trading_mode=mode)):
        return redirect("dashboard-agent-settings", agent_id=agent.pk)
    agent.refresh_from_db()
    return _settings_page(request, agent, mode_form=form)


@login_required
@require_POST
def agent_remove(request: HttpRequest, agent_id: int) -> HttpResponse:
    agent = owned_agent(request, agent_id)
    if not request.POST.get("confirm"):
        return render(request, "agents/confirm_delete.html", {"agent": agent})
    agent_delete(agent=agent)
    return redirect("dashboard-home")


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    raw_key = None
    created: list[tuple[ApiKey, str]] = []
    if form.is_valid() and _saved(
        form, lambda: created.append(api_key_create(owner=request.user, **form.cleaned_data))
    ):
        raw_key = created[0][1]
        form = ApiKeyForm()
    keys = ApiKey.objects.filter(owner=request.user, revoked_at__isnull=True)
    status = 400 if form.errors else 201 if raw_key else 200
    context = {"form": form, "keys": keys, "raw_key": raw_key}
    # The raw key is in this one response only: never kept by a browser's cache.
    response = render(request, "agents/api_keys.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_delete(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_id, owner=request.user, revoked_at__isnull=True)
    if not request.POST.get("confirm"):
        return render(request, "agents/confirm_revoke.html", {"key": key})
    api_key_revoke(key=key)
    return redirect("dashboard-api-keys")


class NotificationChannelForm(forms.Form):
    label = forms.CharField(max_length=100, strip=True)
    url = forms.CharField(
        label="Apprise URL",
        max_length=2000,
        strip=True,
        help_text="e.g. tgram://bot-token/chat-id, discord://webhook-id/webhook-token, "
        "mailtos://user:password@example.com. Stored encrypted, never shown again.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    events = forms.MultipleChoiceField(
        choices=NotificationEvent.choices,
        initial=NotificationEvent.values,
        widget=forms.CheckboxSelectMultiple,
    )


def _owned_channel(request: HttpRequest, channel_id: int) -> NotificationChannel:
    return get_object_or_404(NotificationChannel, pk=channel_id, owner=request.user)


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    form = NotificationChannelForm(request.POST or None)
    if form.is_valid() and _saved(
        form, lambda: notification_channel_create(owner=request.user, **form.cleaned_data)
    ):
        messages.success(request, f"Channel {form.cleaned_data['label']} added.")
        return redirect("dashboard-notifications")
    channels = NotificationChannel.objects.filter(owner=request.user)
    status = 400 if form.errors else 200
    response = render(
        request, "agents/notifications.html", {"form": form, "channels": channels}, status=status
    )
    # A URL typed into a refused form comes back in it: never kept by a browser's cache.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def notification_channel_remove(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _owned_channel(request, channel_id)
    if not request.POST.get("confirm"):
        return render(request, "agents/confirm_channel_delete.html", {"channel": channel})
    notification_channel_delete(channel=channel)
    messages.success(request, f"Channel {channel.label} deleted.")
    return redirect("dashboard-notifications")


@login_required
@require_POST
def notification_channel_send_test(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Send a test notification now, and say how it went."""
    channel = _owned_channel(request, channel_id)
    delivery = notification_channel_test(channel=channel)
    if delivery.ok:
        messages.success(request, f"Test notification sent to {channel.label}.")
    else:
        messages.error(request, f"Test notification to {channel.label} failed: {delivery.error}")
    return redirect("dashboard-notifications")
