"""The trading app's pages: the overview of every agent of the operator with its balance, open
positions, equity, realised P/L and win rate; a position with its price chart and transactions,
and the close of one; an agent's closed trades and transactions, filtered and paged, and as CSV.
The open positions table of an agent's page is filled and kept current by
static/dashboard/app.js from the agent's WebSocket, so there is one source of truth for live
figures (the consumer) rather than two renderings that could disagree."""

from datetime import UTC, datetime
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from agents.models import Agent
from nexgent.api import DomainError
from nexgent.csv_export import csv_stream
from nexgent.http import ExternalServiceError
from nexgent.money import WSOL_MINT, ZERO, as_str
from nexgent.views import query_with
from prices.selectors import sol_usd_status
from trading.forms import TradeFilterForm, TransactionFilterForm
from trading.history_selectors import (
    closed_trades_filtered,
    page_of,
    position_chart,
    position_transactions,
    trade_csv_rows,
    transaction_csv_rows,
    transactions_filtered,
)
from trading.models import Balance, ClosedTrade, CloseReason, Position, PositionStatus
from trading.performance_selectors import wallets_overview
from trading.risk_selectors import trading_halted
from trading.selectors import stop_price
from trading.services import position_close
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


def _owned_agent(request: HttpRequest, agent_id: int) -> Agent:
    # Another user's agent is a 404, never a 403: its existence is not theirs to learn.
    return get_object_or_404(Agent, pk=agent_id, owner=request.user)


def _owned_position(request: HttpRequest, agent_id: int, position_id: int) -> Position:
    return get_object_or_404(
        Position.objects.select_related("agent"),
        pk=position_id,
        agent_id=agent_id,
        agent__owner=request.user,
    )


@login_required
@require_http_methods(["GET"])
def position_detail(request: HttpRequest, agent_id: int, position_id: int) -> HttpResponse:
    position = _owned_position(request, agent_id, position_id)
    entries = position_transactions(position)
    context = {
        "agent": position.agent,
        "position": position,
        "stop_price": stop_price(position),
        "closed_trade": ClosedTrade.objects.filter(position=position).first(),
        "transactions": entries,
        "chart": position_chart(position, entries),
    }
    return render(request, "trading/position.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def position_close_page(request: HttpRequest, agent_id: int, position_id: int) -> HttpResponse:
    """GET asks to confirm; POST sells everything the position holds at market, as the API's
    close does, and says what happened on the page it came from."""
    position = _owned_position(request, agent_id, position_id)
    back = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = ""
    if request.method == "GET":
        context = {"agent": position.agent, "position": position, "next": back}
        return render(request, "trading/position_close.html", context)
    _close(request, position)
    return redirect(back or reverse("dashboard-agent", args=[agent_id]))


def _close(request: HttpRequest, position: Position) -> None:
    name = position.token_symbol or position.token_address
    if position.status != PositionStatus.OPEN:
        messages.error(request, f"{name} was not closed: the position is already closed.")
        return
    if trading_halted():
        messages.error(
            request, f"{name} was not closed: trading is halted by the kill switch (no sells)."
        )
        return
    try:
        trade = position_close(position_id=position.pk, reason=CloseReason.MANUAL)
    except (DomainError, ExternalServiceError) as error:
        messages.error(request, f"{name} was not closed: {error}")
        return
    if trade is None:
        messages.error(request, f"{name} was not closed: the position is already closed.")
        return
    sign = "+" if trade.profit_loss_sol > 0 else ""
    messages.success(
        request,
        f"Closed {name}: received {as_str(trade.received_sol)} SOL, "
        f"P/L {sign}{as_str(trade.profit_loss_sol)} SOL.",
    )


def _history_page(request, agent_id, form_class, select, template, partial) -> HttpResponse:
    """The page, or only its filters, rows and pager when htmx asks (a filter or a page turn)."""
    agent = _owned_agent(request, agent_id)
    form = form_class(request.GET)
    limit, offset = form.window()
    page = page_of(select(agent.pk, form.history_filter()), limit=limit, offset=offset)
    context = {
        "agent": agent,
        "form": form,
        "page": page,
        "next_query": query_with(request, offset=offset + limit) if page.has_next else "",
        "previous_query": query_with(request, offset=max(offset - limit, 0)) if offset else "",
        "csv_query": query_with(request, offset=None, limit=None),
    }
    # A history restore (the back button) wants the whole page, not the fragment.
    swap_only = request.htmx and not request.htmx.history_restore_request
    response = render(request, partial if swap_only else template, context)
    # The same URL answers with a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_http_methods(["GET"])
def closed_trades(request: HttpRequest, agent_id: int) -> HttpResponse:
    return _history_page(
        request,
        agent_id,
        TradeFilterForm,
        closed_trades_filtered,
        "trading/trades.html",
        "trading/_trades_history.html",
    )


@login_required
@require_http_methods(["GET"])
def closed_trades_csv(request: HttpRequest, agent_id: int) -> StreamingHttpResponse:
    """Every closed trade the page's filters select (all pages)."""
    agent = _owned_agent(request, agent_id)
    rows = closed_trades_filtered(agent.pk, TradeFilterForm(request.GET).history_filter())
    return csv_stream(trade_csv_rows(rows), filename=f"agent-{agent.pk}-trades.csv")


@login_required
@require_http_methods(["GET"])
def transactions(request: HttpRequest, agent_id: int) -> HttpResponse:
    return _history_page(
        request,
        agent_id,
        TransactionFilterForm,
        transactions_filtered,
        "trading/transactions.html",
        "trading/_transactions_history.html",
    )


@login_required
@require_http_methods(["GET"])
def transactions_csv(request: HttpRequest, agent_id: int) -> StreamingHttpResponse:
    """Every ledger entry the page's filters select (all pages)."""
    agent = _owned_agent(request, agent_id)
    rows = transactions_filtered(agent.pk, TransactionFilterForm(request.GET).history_filter())
    return csv_stream(transaction_csv_rows(rows), filename=f"agent-{agent.pk}-transactions.csv")
