"""The dashboard's overview: every agent of the operator with its balance, open positions,
equity, realised P/L and win rate.
The open positions table of an agent's page is filled and kept current by
static/dashboard/app.js from the agent's WebSocket, so there is one source of truth for live
figures (the consumer) rather than two renderings that could disagree."""

from datetime import UTC, datetime
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from agents.models import Agent
from nexgent.money import WSOL_MINT, ZERO
from prices.selectors import sol_usd_status
from trading.models import Balance, PositionStatus
from trading.performance_selectors import wallets_overview
from wallets.models import AgentWallet


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
            open_positions=Count("positions", filter=Q(positions__status=PositionStatus.OPEN)),
            # The wallet of the agent's current mode, whose figures the overview shows.
            wallet_id=Subquery(
                AgentWallet.objects.filter(
                    agent=OuterRef("pk"), mode=OuterRef("trading_mode")
                ).values("pk")[:1]
            ),
        )
    )
    wallet_ids = [agent.wallet_id for agent in agents if agent.wallet_id is not None]
    overview = wallets_overview(wallet_ids, datetime.now(UTC))
    for agent in agents:
        agent.overview = overview.get(agent.wallet_id)
        agent.sol_balance = agent.overview.valuation.sol_balance if agent.overview else ZERO
        agent.automated_on = agent.automated_trading_on(agent.trading_mode)
    context = {"agents": agents, "prices_stale": sol_usd_status().is_stale}
    return render(request, "trading/home.html", context)
