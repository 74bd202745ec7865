"""Risk guards (trading-rules.md section 8) as pure functions over facts loaded in bulk.

A guard either trips, giving the pause it calls for (reason, until, details), or it does not.
Reading the ledger is trading.risk_selectors' job and recording pauses trading.risk_services';
nothing here touches the database, so a fan-out over a thousand agents evaluates them all in
memory after a fixed number of queries. The choices made where the rules are silent are in
docs/risk.md.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

DAILY_LOSS_LIMIT = "daily_loss_limit"
MAX_DRAWDOWN = "max_drawdown"
STOP_LOSS_COOLDOWN = "stop_loss_cooldown"
# What a signal's buy is skipped with, by kill switch mode: the modes that stop buys.
KILL_SWITCH_REASONS = {"halt": "kill_switch_halt", "reduce_only": "kill_switch_reduce_only"}

ZERO = Decimal(0)
HUNDRED = Decimal(100)
# Percentages shown to the operator: more places would only be noise.
_PERCENT_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Holding:
    """What an open position holds, and what it cost (fees included)."""

    token_address: str
    remaining: Decimal
    tokens_bought: Decimal
    invested_sol: Decimal

    def cost_sol(self) -> Decimal:
        if self.tokens_bought <= 0:
            return ZERO
        return self.remaining / self.tokens_bought * self.invested_sol


@dataclass(frozen=True, slots=True)
class LedgerFacts:
    """One agent wallet's ledger as the guards read it. A figure a configured guard does not
    need is left at its default and never read."""

    sol_balance: Decimal = ZERO
    holdings: tuple[Holding, ...] = ()
    prices: Mapping[str, Decimal] = field(default_factory=dict)  # latest SOL price per token
    realised_today_sol: Decimal = ZERO
    net_transfers_sol: Decimal = ZERO  # deposits minus withdrawals, all time
    stored_peak_sol: Decimal | None = None  # highest (equity - net transfers) seen so far
    stop_loss_closes: tuple[datetime, ...] = ()  # oldest first


@dataclass(frozen=True, slots=True)
class Trip:
    """A guard that tripped: the pause it calls for. `until` None lasts until the guard clears."""

    reason: str
    until: datetime | None
    details: dict


@dataclass(frozen=True, slots=True)
class GuardReport:
    trips: tuple[Trip, ...]
    # The peak to store after this evaluation; None when the drawdown guard is off.
    peak_sol: Decimal | None
    # JSON-ready state of every guard, for the operator (GET agents/{id}/risk).
    state: dict
    # The guards that are configured: an open pause of a guard switched off since ends.
    configured: frozenset[str]


def utc_day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def next_utc_day(now: datetime) -> datetime:
    return utc_day_start(now) + timedelta(days=1)


def equity_sol(facts: LedgerFacts) -> Decimal:
    """SOL balance plus open positions at their latest price, or at cost when no price is
    known (a missing price is neither a gain nor a loss)."""
    value = facts.sol_balance
    for holding in facts.holdings:
        price = facts.prices.get(holding.token_address)
        value += holding.remaining * price if price is not None else holding.cost_sol()
    return value


def guards_evaluate(risk_config, facts: LedgerFacts, now: datetime) -> GuardReport:
    """Every configured guard of one agent (`risk_config` is its AgentConfig.risk)."""
    trips: list[Trip] = []
    state: dict = {}
    peak = None
    configured = set()
    if risk_config.daily_loss_limit_sol is not None:
        configured.add(DAILY_LOSS_LIMIT)
        state[DAILY_LOSS_LIMIT], trip = daily_loss_check(
            risk_config.daily_loss_limit_sol, facts.realised_today_sol, now
        )
        trips.extend(filter(None, [trip]))
    if risk_config.max_drawdown_percent is not None:
        configured.add(MAX_DRAWDOWN)
        state[MAX_DRAWDOWN], trip, peak = drawdown_check(
            risk_config.max_drawdown_percent, facts, now
        )
        trips.extend(filter(None, [trip]))
    if risk_config.cooldown_after_stop_losses is not None:
        configured.add(STOP_LOSS_COOLDOWN)
        state[STOP_LOSS_COOLDOWN], trip = cooldown_check(
            risk_config.cooldown_after_stop_losses, facts.stop_loss_closes, now
        )
        trips.extend(filter(None, [trip]))
    return GuardReport(tuple(trips), peak, state, frozenset(configured))


def daily_loss_check(
    limit_sol: Decimal, realised_today_sol: Decimal, now: datetime
) -> tuple[dict, Trip | None]:
    """Net realised loss since 00:00 UTC at or beyond the limit pauses buys until the next
    UTC day. Gains of the same day offset losses."""
    loss = max(-realised_today_sol, ZERO)
    resets_at = next_utc_day(now)
    state = {
        "limit_sol": str(limit_sol),
        "realised_today_sol": str(realised_today_sol),
        "loss_today_sol": str(loss),
        "day_started_at": utc_day_start(now).isoformat(),
        "tripped": loss >= limit_sol,
    }
    if not state["tripped"]:
        return state, None
    return state, Trip(DAILY_LOSS_LIMIT, resets_at, _details(state))


def drawdown_check(
    limit_percent: Decimal, facts: LedgerFacts, now: datetime
) -> tuple[dict, Trip | None, Decimal]:
    """Drawdown from the equity peak at or beyond the limit pauses buys until it is back under
    the limit (or an operator ends the pause, which restarts the peak from the equity then)."""
    equity = equity_sol(facts)
    result = equity - facts.net_transfers_sol
    peak = result if facts.stored_peak_sol is None else max(facts.stored_peak_sol, result)
    peak_equity = peak + facts.net_transfers_sol
    drawdown = (peak_equity - equity) / peak_equity * HUNDRED if peak_equity > 0 else ZERO
    state = {
        "limit_percent": str(limit_percent),
        "equity_sol": str(equity),
        "peak_equity_sol": str(peak_equity),
        "drawdown_percent": str(drawdown.quantize(_PERCENT_PLACES)),
        "tripped": drawdown >= limit_percent,
    }
    trip = Trip(MAX_DRAWDOWN, None, _details(state)) if state["tripped"] else None
    return state, trip, peak


def cooldown_check(
    cooldown, closes: tuple[datetime, ...], now: datetime
) -> tuple[dict, Trip | None]:
    """`count` stop-loss closes within `window_minutes` pause buys for `pause_minutes` after the
    last of them. Only the most recent `count` closes matter, so the answer does not depend on
    when (or how often) the guard was evaluated before."""
    streak = [moment for moment in closes if moment <= now][-cooldown.count :]
    window = timedelta(minutes=cooldown.window_minutes)
    until = None
    if len(streak) == cooldown.count and streak[-1] - streak[0] <= window:
        until = streak[-1] + timedelta(minutes=cooldown.pause_minutes)
    tripped = until is not None and until > now
    state = {
        "count": cooldown.count,
        "window_minutes": cooldown.window_minutes,
        "pause_minutes": cooldown.pause_minutes,
        "recent_stop_losses": [moment.isoformat() for moment in streak],
        "until": until.isoformat() if tripped else None,
        "tripped": tripped,
    }
    return state, Trip(STOP_LOSS_COOLDOWN, until, _details(state)) if tripped else None


def _details(state: dict) -> dict:
    return {key: value for key, value in state.items() if key != "tripped"}
