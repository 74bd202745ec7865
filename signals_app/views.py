"""An agent's dashboard page: its balance, performance over a timeframe with the equity chart,
live positions (filled from its WebSocket), recent closed trades, its decision on every recent
signal with the reason, and for a live wallet its reconcile state and recent swaps on chain
(signature, outcome, landing time, slippage)."""

from datetime import UTC, datetime

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from agents.config import ConfigValidationError, agent_rules
from agents.models import Agent, TradingMode
from nexgent.money import WSOL_MINT, ZERO
from signals_app.models import SignalExecution
from signals_app.reasons import REASONS, reason_text
from trading.history_selectors import close_reason_words
from trading.models import ClosedTrade
from trading.performance_selectors import TIMEFRAMES, balance_history, performance_report
from trading.risk_selectors import pauses_current
from trading.shadow_selectors import shadow_trades
from trading.views import sol_balances, ws_path
from wallets.models import AgentWallet

RECENT_ROWS = 20
# The equity chart's most snapshots: the newest of the timeframe.
EQUITY_POINTS = 2000
DEFAULT_TIMEFRAME = "all"


def _exit_levels(agent: Agent) -> dict[str, int]:
    """How many take-profit levels and DCA buys the agent's config has in force (0: off), for
    the live rows' progress ("1/4")."""
    try:
        rules = agent_rules(agent.config)
    except ConfigValidationError:
        return {"take_profit": 0, "dca": 0}
    take_profit = len(rules.take_profit.resolved()[0]) if rules.take_profit.enabled else 0
    dca = rules.dca.max_dca_count if rules.dca.enabled else 0
    return {"take_profit": take_profit, "dca": dca}


def _performance_cards(request, agent, wallet, timeframe) -> HttpResponse:
    """The cards alone, as the page asks for them again when a trade closes (htmx)."""
    performance = None
    if wallet is not None:
        performance = performance_report(wallet=wallet, timeframe=timeframe, now=datetime.now(UTC))
    context = {"agent": agent, "performance": performance, "timeframe": timeframe}
    response = render(request, "signals_app/_performance_cards.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


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
    for execution in executions:
        execution.reason_text = reason_text(execution.reason)
    timeframe = request.GET.get("timeframe", DEFAULT_TIMEFRAME)
    if timeframe not in TIMEFRAMES:
        timeframe = DEFAULT_TIMEFRAME
    wallet = AgentWallet.objects.filter(agent=agent, mode=agent.trading_mode).first()
    if request.htmx and not request.htmx.history_restore_request:
        return _performance_cards(request, agent, wallet, timeframe)
    performance = equity = None
    now = datetime.now(UTC)
    if wallet is not None:
        performance = performance_report(wallet=wallet, timeframe=timeframe, now=now)
        history = balance_history(wallet=wallet, timeframe=timeframe, limit=EQUITY_POINTS, now=now)
        # The snapshots, then the equity now: the curve ends where the cards stand.
        equity = {
            "points": [
                *({"t": p["t"], "equity": p["equity_sol"]} for p in history["points"]),
                {"t": performance["as_of"], "equity": performance["equity_sol"]},
            ]
        }
    # A guard's pause stops every buy: shown first, with the way to lift it.
    risk_pauses = [p for p in pauses_current([agent.pk], now)[agent.pk] if p.is_active(now)]
    live_wallet = (
        AgentWallet.objects.filter(agent=agent, mode=TradingMode.LIVE)
        .select_related("reconcile")
        .first()
    )
    context = {
        "agent": agent,
        "exit_levels": _exit_levels(agent),
        "live_wallet": live_wallet,
        "live_reconcile": getattr(live_wallet, "reconcile", None) if live_wallet else None,
        "live_swaps": shadow_trades(agent, limit=RECENT_ROWS) if live_wallet else [],
        "automated_on": agent.automated_trading_on(agent.trading_mode),
        "risk_pauses": risk_pauses,
        "sol_balance": sol_balances([agent]).get(agent.pk, ZERO),
        "sol_mint": WSOL_MINT,
        "ws_path": ws_path(agent.pk),
        "closed_trades": closed_trades,
        "executions": executions,
        "recent_rows": RECENT_ROWS,
        "timeframe": timeframe,
        "timeframes": list(TIMEFRAMES),
        "performance": performance,
        "equity": equity,
        "close_reason_words": close_reason_words(),
        # The same words for the rows app.js adds live.
        "signal_reason_words": REASONS,
    }
    response = render(request, "signals_app/agent.html", context)
    # The same URL answers htmx with the cards alone: caches must keep the two apart.
    patch_vary_headers(response, ["HX-Request"])
    return response
