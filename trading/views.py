"""The dashboard's overview: every agent of the operator with its balance and open positions.
The open positions table of an agent's page is filled and kept current by
static/dashboard/app.js from the agent's WebSocket, so there is one source of truth for live
figures (the consumer) rather than two renderings that could disagree."""

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from agents.models import Agent
from nexgent.money import WSOL_MINT, ZERO
from trading.models import Balance, PositionStatus


def ws_path(agent_id: int) -> str:
    return f"/ws/agents/{agent_id}/"


def sol_balances(agents: list[Agent]) -> dict[int, Decimal]:
    """SOL held by each agent's wallet for the agent's current trading mode, in one query."""
    modes = {agent.pk: agent.trading_mode for agent in agents}
    rows = Balance.objects.filter(
        wallet__agent__in=list(modes), token_address=WSOL_MINT
    ).values_list("wallet__agent_id", "wallet__mode", "amount")
    return {agent_id: amount for agent_id, mode, amount in rows if modes[agent_id] == mode}


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
    return render(request, "trading/home.html", {"agents": agents})
