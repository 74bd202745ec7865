"""The browser dashboard: server-rendered pages for a logged-in operator.

Closed trades and signal executions are rendered here; the open positions table is filled and
kept current by static/dashboard/app.js from the agent's WebSocket, so there is one source of
truth for live figures (the consumer) rather than two renderings that could disagree.
"""

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from agents.auth_services import auth_check_credentials
from agents.models import Agent
from nexgent.api import DomainError
from nexgent.money import WSOL_MINT, ZERO
from signals_app.models import SignalExecution
from trading.models import Balance, ClosedTrade, PositionStatus

RECENT_ROWS = 20
INVALID_LOGIN = "Invalid email or password."


def ws_path(agent_id: int) -> str:
    return f"/ws/agents/{agent_id}/"


def sol_balances(agents: list[Agent]) -> dict[int, Decimal]:
    """SOL held by each agent's wallet for the agent's current trading mode, in one query."""
    modes = {agent.pk: agent.trading_mode for agent in agents}
    rows = Balance.objects.filter(
        wallet__agent__in=list(modes), token_address=WSOL_MINT
    ).values_list("wallet__agent_id", "wallet__mode", "amount")
    return {agent_id: amount for agent_id, mode, amount in rows if modes[agent_id] == mode}


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = None

    def clean(self):
        cleaned = super().clean()
        email, password = cleaned.get("email"), cleaned.get("password")
        if not email or not password:
            return cleaned
        email = email.strip().lower()
        # The same check as the REST login, so dashboard failures count towards the lockout too.
        try:
            user = auth_check_credentials(email=email, password=password)
        except DomainError as error:
            if error.code == "account_locked":
                raise forms.ValidationError(
                    "Too many failed logins: this account is locked until %(until)s UTC.",
                    code="locked",
                    params={"until": _locked_until(email)},
                ) from error
            raise forms.ValidationError(INVALID_LOGIN, code="invalid_login") from error
        self.user = user
        return cleaned


def _locked_until(email: str) -> str:
    until = (
        get_user_model().objects.filter(email=email).values_list("locked_until", flat=True).first()
    )
    return f"{until:%H:%M}" if until else "later"


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
        form = LoginForm(data=request.POST)
        if form.is_valid():
            login(request, form.user)
            return redirect(_safe_next(request))
    elif request.user.is_authenticated:
        return redirect(_safe_next(request))
    else:
        form = LoginForm()
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    return render(request, "dashboard/login.html", {"form": form, "next": next_url})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


@login_required
@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    agents = list(
        Agent.objects.filter(owner=request.user).annotate(
            open_positions=Count("positions", filter=Q(positions__status=PositionStatus.OPEN))
        )
    )
    balances = sol_balances(agents)
    for agent in agents:
        agent.sol_balance = balances.get(agent.pk, ZERO)
        agent.automated_on = agent.automated_trading_on(agent.trading_mode)
    return render(request, "dashboard/home.html", {"agents": agents})


@login_required
@require_http_methods(["GET"])
def agent_detail(request: HttpRequest, agent_id: int) -> HttpResponse:
    # Another user's agent is a 404, never a 403: its existence is not theirs to learn.
    agent = get_object_or_404(Agent, pk=agent_id, owner=request.user)
    closed_trades = ClosedTrade.objects.filter(agent=agent).order_by("-closed_at", "-id")[
        :RECENT_ROWS
    ]
    executions = (
        SignalExecution.objects.filter(agent=agent)
        .select_related("signal")
        .order_by("-id")[:RECENT_ROWS]
    )
    context = {
        "agent": agent,
        "automated_on": agent.automated_trading_on(agent.trading_mode),
        "sol_balance": sol_balances([agent]).get(agent.pk, ZERO),
        "sol_mint": WSOL_MINT,
        "ws_path": ws_path(agent.pk),
        "closed_trades": closed_trades,
        "executions": executions,
        "recent_rows": RECENT_ROWS,
    }
    return render(request, "dashboard/agent.html", context)
