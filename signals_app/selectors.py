"""Reads of signals: the filtered list (JSON and CSV share it)."""

from datetime import datetime

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


def signals_list(
    *,
    owner: User,
    limit: int,
    token_address: str | None = None,
    signal_type: str | None = None,
    source: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    status: str | None = None,
    agent_id: int | None = None,
) -> QuerySet[TradingSignal]:
    """The owner's signals, newest first, with a count of executions per status.

    `status` and `agent_id` select signals by their executions: with both, signals where that
    agent's decision had that status ("which signals did agent X skip?"). With `agent_id`
    each signal carries that agent's execution as `agent_executions`.
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
    if agent_id is not None:
        rows = rows.prefetch_related(
            Prefetch(
                "executions",
                queryset=SignalExecution.objects.filter(agent_id=agent_id),
                to_attr="agent_executions",
            )
        )
    counts = {f"{name}_count": Count("executions", filter=cond) for name, cond in _SUMMARY.items()}
    return rows.annotate(**counts).order_by("-created_at", "-id")[:limit]


def execution_summary(signal: TradingSignal) -> dict[str, int]:
    return {name: getattr(signal, f"{name}_count") for name in _SUMMARY}
