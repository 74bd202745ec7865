"""Writes for the risk guards and the kill switch: recording, extending and ending pauses,
tracking equity peaks, setting the switch. docs/risk.md describes the behaviour."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import F

from agents.config import agent_config
from agents.models import Agent, User
from nexgent import money
from nexgent.api import DomainError
from trading.models import EquityPeak, KillSwitch, KillSwitchMode, RiskPause
from trading.notifications import risk_guard_tripped_notify
from trading.risk_selectors import (
    RiskSubject,
    WalletFacts,
    equity_peaks,
    kill_switch_mode,
    ledger_facts_load,
    pause_payload,
    pauses_current,
    risk_subjects,
    wallet_facts_load,
    with_peaks,
)
from trading.rules import risk
from trading.rules.risk import KILL_SWITCH_REASONS

# When an agent has several active pauses, the one reported is the first of this order.
_REASON_ORDER = (risk.DAILY_LOSS_LIMIT, risk.MAX_DRAWDOWN, risk.STOP_LOSS_COOLDOWN)


@dataclass(frozen=True, slots=True)
class BuyBlock:
    """Why a buy must not happen now: a skip reason and the figures behind it."""

    reason: str
    details: dict


def _now() -> datetime:
    return datetime.now(UTC)


# --- Kill switch -------------------------------------------------------------------------------


def kill_switch_set(*, mode: str, user: User | None, note: str = "") -> KillSwitch:
    if mode not in KillSwitchMode.values:
        raise DomainError(
            f"mode must be one of {KillSwitchMode.values}",
            code="validation_error",
            details=[{"field": "mode", "message": "unknown mode"}],
        )
    with transaction.atomic():
        switch, _ = KillSwitch.objects.update_or_create(
            pk=KillSwitch.SINGLETON_PK,
            defaults={"mode": mode, "set_by": user, "set_at": _now(), "note": note[:500]},
        )
    return switch


# --- Guards ------------------------------------------------------------------------------------


def risk_guards_apply(*, subjects: list[RiskSubject], now: datetime) -> dict[int, RiskPause]:
    """Evaluate the subjects' guards and bring their pauses up to date: record the pauses that
    tripped guards call for, extend a cooldown a new streak prolongs, end pauses that expired,
    recovered or whose guard was switched off, and store new equity peaks. Returns each
    agent's active pause (if several, the first of _REASON_ORDER).

    The queries do not depend on the number of subjects: the fan-out applies this to every
    candidate agent of a signal at once.
    """
    if not subjects:
        return {}
    agent_ids = [s.agent_id for s in subjects]
    if not any(_guarded(s) for s in subjects) and not _open_pauses_exist(agent_ids):
        # The common case of agents without guards: one query instead of the whole pass.
        return {}
    facts = ledger_facts_load(subjects, now)
    drawdown_wallets = [
        s.wallet.wallet_id for s in subjects if s.risk.max_drawdown_percent is not None
    ]
    with transaction.atomic():
        RiskPause.objects.filter(
            agent_id__in=agent_ids, ended_at__isnull=True, until__lte=now
        ).update(ended_at=F("until"), end_note="expired")
        # Locked, so two evaluations of one wallet cannot store a lower peak over a higher one.
        peaks = equity_peaks(drawdown_wallets, lock=True) if drawdown_wallets else {}
        facts = with_peaks(facts, subjects, {w: row.peak_sol for w, row in peaks.items()})
        reports = {
            s.agent_id: risk.guards_evaluate(s.risk, facts[s.agent_id], now) for s in subjects
        }
        created = _pauses_update(reports, pauses_current(agent_ids, now), now)
        _peaks_store(subjects, reports, peaks, now)
        current = pauses_current(agent_ids, now)
        _trips_notify(subjects, created, current, now)
    active = {agent_id: _first_active(pauses, now) for agent_id, pauses in current.items()}
    return {agent_id: pause for agent_id, pause in active.items() if pause is not None}


def _guarded(subject: RiskSubject) -> bool:
    config = subject.risk
    return (
        config.daily_loss_limit_sol is not None
        or config.max_drawdown_percent is not None
        or config.cooldown_after_stop_losses is not None
    )


def _open_pauses_exist(agent_ids: list[int]) -> bool:
    # An open pause of an agent whose guards were all switched off must still be ended.
    return RiskPause.objects.filter(agent_id__in=agent_ids, ended_at__isnull=True).exists()


def _pauses_update(
    reports: dict[int, risk.GuardReport], current: dict[int, list[RiskPause]], now: datetime
) -> list[RiskPause]:
    """Records the pauses; returns those it meant to create (a concurrent evaluation may have
    recorded one of them first)."""
    created: list[RiskPause] = []
    changed: list[RiskPause] = []
    for agent_id, report in reports.items():
        new, touched = _pause_changes(agent_id, report, current.get(agent_id, []), now)
        created += new
        changed += touched
    if created:
        # A concurrent evaluation that recorded the same pause first wins; this one is dropped.
        RiskPause.objects.bulk_create(created, ignore_conflicts=True)
    if changed:
        RiskPause.objects.bulk_update(changed, ["until", "details", "ended_at", "end_note"])
    return created


def _trips_notify(
    subjects: list[RiskSubject],
    created: list[RiskPause],
    current: dict[int, list[RiskPause]],
    now: datetime,
) -> None:
    """Tell the owners of the guards that tripped now: a pause this evaluation recorded (its
    start is this evaluation's `now`; one a concurrent evaluation recorded first is that one's
    to tell), never one that goes on."""
    if not created:
        return
    meant = {(pause.agent_id, pause.reason) for pause in created}
    owners = {subject.agent_id: subject.owner_id for subject in subjects}
    for agent_id, pauses in current.items():
        for pause in pauses:
            if (agent_id, pause.reason) in meant and pause.started_at == now:
                risk_guard_tripped_notify(owner_id=owners[agent_id], pause=pause, now=now)


def _pause_changes(
    agent_id: int, report: risk.GuardReport, pauses: list[RiskPause], now: datetime
) -> tuple[list[RiskPause], list[RiskPause]]:
    """The pauses to create and the (modified) pauses to save for one agent."""
    open_by_reason = {p.reason: p for p in pauses if p.ended_at is None}
    # A period an operator already ended early (same reason, same end) is not paused again.
    periods = {(p.reason, p.until) for p in pauses if p.until is not None}
    created, changed = [], []
    for trip in report.trips:
        existing = open_by_reason.get(trip.reason)
        if existing is None:
            if trip.until is None or (trip.reason, trip.until) not in periods:
                created.append(
                    RiskPause(
                        agent_id=agent_id,
                        reason=trip.reason,
                        started_at=now,
                        until=trip.until,
                        details=trip.details,
                    )
                )
        elif existing.until is not None and trip.until is not None and trip.until > existing.until:
            # A new stop-loss streak while cooling down: the cooldown runs from its last close.
            existing.until, existing.details = trip.until, trip.details
            changed.append(existing)
    tripped = {trip.reason for trip in report.trips}
    for reason, pause in open_by_reason.items():
        note = _end_note(reason, report, tripped)
        if note:
            pause.ended_at, pause.end_note = now, note
            changed.append(pause)
    return created, changed


def _end_note(reason: str, report: risk.GuardReport, tripped: set[str]) -> str:
    if reason not in report.configured:
        return "guard switched off"
    # Only the drawdown pause has no fixed end: it ends when the drawdown is back under the
    # limit. The others run until their `until` whatever happens meanwhile.
    if reason == risk.MAX_DRAWDOWN and reason not in tripped:
        return "recovered"
    return ""


def _peaks_store(
    subjects: list[RiskSubject],
    reports: dict[int, risk.GuardReport],
    stored: dict[int, EquityPeak],
    now: datetime,
) -> None:
    new, raised = [], []
    for subject in subjects:
        peak = reports[subject.agent_id].peak_sol
        if peak is None:
            continue
        peak, wallet_id = money.amount(peak), subject.wallet.wallet_id
        row = stored.get(wallet_id)
        if row is None:
            new.append(EquityPeak(wallet_id=wallet_id, peak_sol=peak, peak_at=now))
        elif peak > row.peak_sol:
            row.peak_sol, row.peak_at = peak, now
            raised.append(row)
    if new:
        EquityPeak.objects.bulk_create(new, ignore_conflicts=True)
    if raised:
        EquityPeak.objects.bulk_update(raised, ["peak_sol", "peak_at"])


def _first_active(pauses: Iterable[RiskPause], now: datetime) -> RiskPause | None:
    active = [p for p in pauses if p.is_active(now)]
    active.sort(key=lambda p: _REASON_ORDER.index(p.reason))
    return active[0] if active else None


def kill_switch_block(mode: str | None = None) -> BuyBlock | None:
    """What the kill switch says to a buy now (or in `mode`, as just read): None, or the block
    it records."""
    mode = mode or kill_switch_mode()
    if mode in KILL_SWITCH_REASONS:
        return BuyBlock(KILL_SWITCH_REASONS[mode], {"kill_switch": mode})
    return None


def buy_guards_check(
    *, agent: Agent, opens_position: bool, now: datetime | None = None
) -> BuyBlock | None:
    """The guards again, for one agent, right before a buy: the kill switch, its risk guards
    and, for a buy that opens a position, max_open_positions. None: the buy may go ahead."""
    blocks = buy_guards_check_many(
        agents=[agent], wallets=wallet_facts_load([agent]), opens_position=opens_position, now=now
    )
    return blocks.get(agent.pk)


def buy_guards_check_many(
    *,
    agents: list[Agent],
    wallets: dict[int, WalletFacts],
    opens_position: bool,
    now: datetime | None = None,
) -> dict[int, BuyBlock]:
    """buy_guards_check for several agents at once, in a number of queries that does not grow
    with them: what blocks each blocked agent, keyed by agent id. `wallets` are the agents'
    wallet facts (wallet_facts_load); an agent without one is not blocked here, since its buy
    reports the missing wallet."""
    now = now or _now()
    switched = kill_switch_block()
    if switched is not None:
        return {agent.pk: switched for agent in agents}
    configs = {agent.pk: agent_config(agent.config) for agent in agents if agent.pk in wallets}
    pauses = risk_guards_apply(subjects=risk_subjects(agents, wallets), now=now)
    blocks = {
        agent_id: BuyBlock("risk_paused", pause_payload(pause))
        for agent_id, pause in pauses.items()
    }
    if opens_position:
        for agent_id, config in configs.items():
            open_positions = len(wallets[agent_id].holdings)
            if agent_id not in blocks and open_positions >= config.risk.max_open_positions:
                blocks[agent_id] = BuyBlock(
                    "max_open_positions",
                    {
                        "open_positions": open_positions,
                        "max_open_positions": config.risk.max_open_positions,
                    },
                )
    return blocks


def risk_pause_end(*, pause: RiskPause, note: str, now: datetime | None = None) -> RiskPause:
    """An operator resumes buys. Ending a drawdown pause restarts the peak from today's
    equity; otherwise the guard would trip again at once on the same drawdown."""
    now = now or _now()
    with transaction.atomic():
        pause = RiskPause.objects.select_for_update().select_related("agent").get(pk=pause.pk)
        if pause.ended_at is not None:
            return pause
        pause.ended_at, pause.end_note = now, note[:200]
        pause.save(update_fields=["ended_at", "end_note"])
        if pause.reason == risk.MAX_DRAWDOWN:
            _peak_restart(pause.agent, now)
    return pause


def _peak_restart(agent: Agent, now: datetime) -> None:
    wallets = wallet_facts_load([agent])
    if agent.pk not in wallets:
        return
    subject = risk_subjects([agent], wallets)[0]
    facts = ledger_facts_load([subject], now)[agent.pk]
    result = risk.equity_sol(facts) - facts.net_transfers_sol
    EquityPeak.objects.update_or_create(
        wallet_id=subject.wallet.wallet_id,
        defaults={"peak_sol": money.amount(result), "peak_at": now},
    )
