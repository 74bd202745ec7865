"""Reads for the risk guards and the kill switch, in bulk: a fixed number of queries whatever
the number of agents. Amounts are summed in Python: on SQLite they are stored as text."""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Q

from agents.config import agent_config
from agents.models import Agent
from nexgent import money
from prices.selectors import latest_prices
from trading.models import (
    Balance,
    ClosedTrade,
    CloseReason,
    EquityPeak,
    KillSwitch,
    KillSwitchMode,
    Position,
    PositionStatus,
    RiskPause,
    Transaction,
    TransactionType,
)
from trading.rules import risk
from trading.rules.risk import KILL_SWITCH_REASONS
from wallets.models import AgentWallet

# How many of an agent's latest pauses the risk report lists.
RECENT_PAUSES = 20


@dataclass(frozen=True, slots=True)
class WalletFacts:
    """An agent's wallet of its current trading mode: its SOL and its open positions."""

    wallet_id: int
    sol_balance: Decimal
    holdings: tuple[risk.Holding, ...]

    @property
    def open_tokens(self) -> frozenset[str]:
        return frozenset(holding.token_address for holding in self.holdings)


# --- Kill switch -------------------------------------------------------------------------------


def kill_switch_get() -> KillSwitch:
    """The switch row; an unsaved "off" one when no operator ever set it."""
    switch = KillSwitch.objects.select_related("set_by").filter(pk=KillSwitch.SINGLETON_PK).first()
    return switch or KillSwitch(pk=KillSwitch.SINGLETON_PK)


def kill_switch_mode() -> str:
    mode = KillSwitch.objects.filter(pk=KillSwitch.SINGLETON_PK).values_list("mode", flat=True)
    return mode.first() or KillSwitchMode.OFF


def trading_halted() -> bool:
    """Halt: no buys AND no sells (automated exits and manual closes are refused)."""
    return kill_switch_mode() == KillSwitchMode.HALT


# --- Wallets -----------------------------------------------------------------------------------


def wallet_facts_load(agents: list[Agent]) -> dict[int, WalletFacts]:
    """Each agent's wallet of its current mode, keyed by agent id, in three queries; an agent
    without such a wallet is absent. Balances and positions are read by wallet id, unordered:
    a join through the agents is planned badly on tables whose statistics lag behind a burst
    of buys (measured: 2.5 ms instead of 0.5 ms for 500 positions, docs/benchmarks.md)."""
    modes = {agent.pk: agent.trading_mode for agent in agents}
    found = AgentWallet.objects.filter(agent_id__in=list(modes)).values_list(
        "pk", "agent_id", "mode"
    )
    wallets = {
        agent_id: wallet_id
        for wallet_id, agent_id, mode in found.order_by()
        if modes.get(agent_id) == mode
    }
    facts = wallet_holdings_load(list(wallets.values()))
    return {agent_id: facts[wallet_id] for agent_id, wallet_id in wallets.items()}


def wallet_holdings_load(wallet_ids: list[int]) -> dict[int, WalletFacts]:
    """The SOL and open positions of each wallet, keyed by wallet id, in two queries."""
    balances = dict(
        Balance.objects.filter(wallet_id__in=wallet_ids, token_address=money.WSOL_MINT)
        .order_by()
        .values_list("wallet_id", "amount")
    )
    holdings: dict[int, list[risk.Holding]] = defaultdict(list)
    open_positions = Position.objects.filter(wallet_id__in=wallet_ids, status=PositionStatus.OPEN)
    for wallet_id, token, remaining, bought, invested in open_positions.order_by().values_list(
        "wallet_id",
        "token_address",
        "remaining_amount",
        "total_tokens_bought",
        "total_invested_sol",
    ):
        holdings[wallet_id].append(risk.Holding(token, remaining, bought, invested))
    return {
        wallet_id: WalletFacts(
            wallet_id, balances.get(wallet_id, money.ZERO), tuple(holdings[wallet_id])
        )
        for wallet_id in wallet_ids
    }


# --- Ledger figures the guards read -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RiskSubject:
    """One agent whose guards are evaluated: its risk config and its current wallet."""

    agent_id: int
    risk: object  # agents.config.RiskConfig
    wallet: WalletFacts
    owner_id: int


def risk_subjects(agents: list[Agent], wallets: dict[int, WalletFacts]) -> list[RiskSubject]:
    """Subjects for the agents that have a wallet of their mode (others cannot buy anyway)."""
    return [
        RiskSubject(agent.pk, agent_config(agent.config).risk, wallets[agent.pk], agent.owner_id)
        for agent in agents
        if agent.pk in wallets
    ]


def ledger_facts_load(subjects: list[RiskSubject], now: datetime) -> dict[int, risk.LedgerFacts]:
    """The figures each subject's configured guards need, keyed by agent id; a query runs only
    when some subject configures the guard that reads it. Stored peaks are not read here:
    the write path reads them under a lock (risk_services), the report without one."""
    daily = [s for s in subjects if s.risk.daily_loss_limit_sol is not None]
    drawdown = [s for s in subjects if s.risk.max_drawdown_percent is not None]
    cooldown = [s for s in subjects if s.risk.cooldown_after_stop_losses is not None]
    realised = _realised_today(_wallet_ids(daily), now) if daily else {}
    transfers = _net_transfers(_wallet_ids(drawdown)) if drawdown else {}
    prices = _prices(drawdown)
    closes = _stop_loss_closes(cooldown, now) if cooldown else {}
    facts = {}
    for subject in subjects:
        wallet_id = subject.wallet.wallet_id
        facts[subject.agent_id] = risk.LedgerFacts(
            sol_balance=subject.wallet.sol_balance,
            holdings=subject.wallet.holdings,
            prices=prices,
            realised_today_sol=realised.get(wallet_id, money.ZERO),
            net_transfers_sol=transfers.get(wallet_id, money.ZERO),
            stop_loss_closes=tuple(closes.get(wallet_id, ())),
        )
    return facts


def with_peaks(
    facts: dict[int, risk.LedgerFacts], subjects: list[RiskSubject], peaks: dict[int, Decimal]
) -> dict[int, risk.LedgerFacts]:
    """`facts` with each subject's stored equity peak (keyed by wallet id) filled in."""
    return {
        s.agent_id: replace(facts[s.agent_id], stored_peak_sol=peaks.get(s.wallet.wallet_id))
        for s in subjects
    }


def equity_peaks(wallet_ids: list[int], *, lock: bool = False) -> dict[int, EquityPeak]:
    rows = EquityPeak.objects.filter(wallet_id__in=wallet_ids).order_by("pk")
    if lock:
        rows = rows.select_for_update()
    return {row.wallet_id: row for row in rows}


def _wallet_ids(subjects: list[RiskSubject]) -> list[int]:
    return [s.wallet.wallet_id for s in subjects]


def _realised_today(wallet_ids: list[int], now: datetime) -> dict[int, Decimal]:
    """Realised P/L since 00:00 UTC per wallet. A closed trade's P/L already includes its
    take-profit sales, so each sale counts once, on the day it happened: today's partial
    take-profit sales, plus each trade closed today less its take-profit sales."""
    day = (risk.utc_day_start(now), now)
    totals: dict[int, Decimal] = defaultdict(lambda: money.ZERO)
    for wallet_id, pnl in ClosedTrade.objects.filter(
        wallet_id__in=wallet_ids, closed_at__range=day
    ).values_list("wallet_id", "profit_loss_sol"):
        totals[wallet_id] += pnl
    take_profits = Transaction.objects.filter(
        wallet_id__in=wallet_ids, is_take_profit=True, profit_loss_sol__isnull=False
    )
    for wallet_id, pnl in take_profits.filter(
        position__closed_trade__closed_at__range=day
    ).values_list("wallet_id", "profit_loss_sol"):
        totals[wallet_id] -= pnl
    for wallet_id, pnl in take_profits.filter(created_at__range=day).values_list(
        "wallet_id", "profit_loss_sol"
    ):
        totals[wallet_id] += pnl
    return totals


def _net_transfers(wallet_ids: list[int]) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = defaultdict(lambda: money.ZERO)
    for wallet_id, kind, amount in Transaction.objects.filter(
        wallet_id__in=wallet_ids, type__in=[TransactionType.DEPOSIT, TransactionType.WITHDRAWAL]
    ).values_list("wallet_id", "type", "input_amount"):
        totals[wallet_id] += amount if kind == TransactionType.DEPOSIT else -amount
    return totals


def _prices(subjects: list[RiskSubject]) -> dict[str, Decimal]:
    mints = sorted({h.token_address for s in subjects for h in s.wallet.holdings})
    if not mints:
        return {}
    return {mint: latest.price_sol for mint, latest in latest_prices(mints).items()}


def _stop_loss_closes(subjects: list[RiskSubject], now: datetime) -> dict[int, list[datetime]]:
    """Recent stop-loss closes per wallet, oldest first. A streak that still pauses buys ended
    less than pause_minutes ago and began at most window_minutes before that."""
    reach = max(
        c.window_minutes + c.pause_minutes
        for c in (s.risk.cooldown_after_stop_losses for s in subjects)
    )
    closes: dict[int, list[datetime]] = defaultdict(list)
    for wallet_id, closed_at in (
        ClosedTrade.objects.filter(
            wallet_id__in=_wallet_ids(subjects),
            close_reason=CloseReason.STOP_LOSS,
            closed_at__range=(now - timedelta(minutes=reach), now),
        )
        .order_by("closed_at", "pk")
        .values_list("wallet_id", "closed_at")
    ):
        closes[wallet_id].append(closed_at)
    return closes


# --- Pauses --------------------------------------------------------------------------------------


def pauses_current(agent_ids: list[int], now: datetime) -> dict[int, list[RiskPause]]:
    """Per agent: its open pauses, and the ended ones whose period is not over yet (an operator
    ended them early; the same period must not pause the agent again)."""
    rows = RiskPause.objects.filter(agent_id__in=agent_ids).filter(
        Q(ended_at__isnull=True) | Q(until__gt=now)
    )
    by_agent: dict[int, list[RiskPause]] = defaultdict(list)
    for pause in rows.order_by("pk"):
        by_agent[pause.agent_id].append(pause)
    return by_agent


def pause_payload(pause: RiskPause) -> dict:
    return {
        "pause_id": pause.pk,
        "reason": pause.reason,
        "started_at": pause.started_at.isoformat(),
        "until": pause.until.isoformat() if pause.until else None,
        "ended_at": pause.ended_at.isoformat() if pause.ended_at else None,
        "end_note": pause.end_note,
        "details": pause.details,
    }


def risk_report(*, agent: Agent, now: datetime) -> dict:
    """What the operator sees in GET agents/{id}/risk: the kill switch, the agent's pauses
    (active and recent) and the state of every guard as of `now`. Read-only: a guard found
    tripped here is recorded as a pause by the next fan-out or buy that evaluates it."""
    config = agent_config(agent.config)
    wallet = wallet_facts_load([agent]).get(agent.pk)
    switch = kill_switch_get()
    pauses = list(RiskPause.objects.filter(agent=agent)[:RECENT_PAUSES])
    active = [pause for pause in pauses if pause.is_active(now)]
    open_positions = len(wallet.holdings) if wallet else 0
    guards: dict = {
        "max_open_positions": {
            "limit": config.risk.max_open_positions,
            "open_positions": open_positions,
            "tripped": open_positions >= config.risk.max_open_positions,
        }
    }
    if wallet is not None:
        subject = RiskSubject(agent.pk, config.risk, wallet, agent.owner_id)
        peaks = {w: row.peak_sol for w, row in equity_peaks([wallet.wallet_id]).items()}
        facts = with_peaks(ledger_facts_load([subject], now), [subject], peaks)
        guards.update(risk.guards_evaluate(config.risk, facts[agent.pk], now).state)
    blocked = KILL_SWITCH_REASONS.get(switch.mode) or ("risk_paused" if active else None)
    return {
        "agent_id": agent.pk,
        "as_of": now.isoformat(),
        "buys_allowed": blocked is None,
        "sells_allowed": switch.mode != KillSwitchMode.HALT,
        "blocked_reason": blocked,
        "kill_switch": kill_switch_payload(switch),
        "active_pauses": [pause_payload(pause) for pause in active],
        "recent_pauses": [pause_payload(pause) for pause in pauses],
        "guards": guards,
    }


def kill_switch_payload(switch: KillSwitch) -> dict:
    return {
        "mode": switch.mode,
        "set_by": switch.set_by.email if switch.set_by_id else None,
        "set_at": switch.set_at.isoformat() if switch.set_at else None,
        "note": switch.note,
    }
