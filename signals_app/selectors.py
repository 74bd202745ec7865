"""Reads of signals: the filtered list (JSON and CSV share it), and the work committed signals
still wait for."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from agents.models import User
from signals_app.models import ExecutionStatus, SignalExecution, TradingSignal

# Executions still in flight count as pending in the summary.
_SUMMARY = {
    "executed": Q(executions__status=ExecutionStatus.EXECUTED),
    "skipped": Q(executions__status=ExecutionStatus.SKIPPED),
    "failed": Q(executions__status=ExecutionStatus.FAILED),
    "pending": Q(executions__status__in=[ExecutionStatus.PENDING, ExecutionStatus.EXECUTING]),
}


def signals_list(*, owner: User, limit: int, offset: int = 0, **filters) -> QuerySet[TradingSignal]:
    """A page of the owner's signals, newest first, with a count of executions per status.
    `filters` are signals_filtered's.

    With `agent_id` each signal carries that agent's execution as `agent_executions`.
    """
    rows = signals_filtered(owner=owner, **filters)
    agent_id = filters.get("agent_id")
    if agent_id is not None:
        rows = rows.prefetch_related(
            Prefetch(
                "executions",
                queryset=SignalExecution.objects.filter(agent_id=agent_id),
                to_attr="agent_executions",
            )
        )
    counts = {f"{name}_count": Count("executions", filter=cond) for name, cond in _SUMMARY.items()}
    return rows.annotate(**counts).order_by("-created_at", "-id")[offset : offset + limit]


def signals_filtered(
    *,
    owner: User,
    token_address: str | None = None,
    signal_type: str | None = None,
    source: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    status: str | None = None,
    agent_id: int | None = None,
) -> QuerySet[TradingSignal]:
    """The owner's signals that pass the filters (count them for a list's total).

    `status` and `agent_id` select signals by their executions: with both, signals where that
    agent's decision had that status ("which signals did agent X skip?").
    """
    rows = TradingSignal.objects.filter(owner=owner)
    exact = {"token_address": token_address, "signal_type": signal_type, "source": source}
    rows = rows.filter(**{name: value for name, value in exact.items() if value is not None})
    if created_after is not None:
        rows = rows.filter(created_at__gte=created_after)
    if created_before is not None:
        rows = rows.filter(created_at__lt=created_before)
    if status is not None or agent_id is not None:
        executions = SignalExecution.objects.filter(signal=OuterRef("pk"))
        if status is not None:
            executions = executions.filter(status=status)
        if agent_id is not None:
            executions = executions.filter(agent_id=agent_id)
        rows = rows.filter(Exists(executions))
    return rows


def execution_summary(signal: TradingSignal) -> dict[str, int]:
    return {name: getattr(signal, f"{name}_count") for name in _SUMMARY}


@dataclass(frozen=True)
class Unfinished:
    """Work committed signals still wait for: signals never fanned out, and the agents whose
    buys are still pending, by signal."""

    signals: list[int]
    pending: dict[int, list[int]]


def signals_unfinished(*, waited_seconds: float, limit: int) -> Unfinished:
    """What has waited more than `waited_seconds`, of signals of the resume window
    (SIGNAL_RESUME_WINDOW_SECONDS); at most `limit` signals of each kind, oldest first."""
    now = datetime.now(UTC)
    waited_since = now - timedelta(seconds=waited_seconds)
    window_start = now - timedelta(seconds=settings.SIGNAL_RESUME_WINDOW_SECONDS)
    in_window = {"created_at__gte": window_start, "created_at__lt": waited_since}
    signals = TradingSignal.objects.filter(processed_at__isnull=True, **in_window)
    stuck_signals = (
        SignalExecution.objects.filter(
            status=ExecutionStatus.PENDING,
            updated_at__lt=waited_since,
            signal__created_at__gte=window_start,
        )
        .order_by("signal_id")
        .values_list("signal_id", flat=True)
        .distinct()[:limit]
    )
    pending: dict[int, list[int]] = {}
    stuck = SignalExecution.objects.filter(
        signal_id__in=list(stuck_signals),
        status=ExecutionStatus.PENDING,
        updated_at__lt=waited_since,
    ).order_by("signal_id", "agent_id")
    for signal_id, agent_id in stuck.values_list("signal_id", "agent_id"):
        pending.setdefault(signal_id, []).append(agent_id)
    return Unfinished(
        list(signals.order_by("created_at", "pk").values_list("pk", flat=True)[:limit]), pending
    )
