from django.db import models
from django.db.models import Q

from agents.models import Agent, ApiKey, User


class SignalAction(models.TextChoices):
    BUY = "buy"
    # Exits the open positions in the token of the agents that take the signal.
    SELL = "sell"


class TradingSignal(models.Model):
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signals")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL)
    token_address = models.CharField(max_length=64)
    symbol = models.CharField(max_length=32, blank=True)
    signal_type = models.CharField(max_length=50)
    signal_strength = models.PositiveSmallIntegerField()
    activation_reason = models.TextField(blank=True)
    source = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=4, choices=SignalAction.choices, default=SignalAction.BUY)
    # Set for a signal meant for one agent alone (its AI strategist's opens); null: every agent
    # of the owner that takes posted signals.
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="own_signals"
    )
    # Null, not "", so the partial unique constraint only binds signals that carry a key.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(signal_strength__gte=1) & Q(signal_strength__lte=5),
                name="signal_strength_1_to_5",
            ),
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="one_signal_per_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "token_address", "created_at"]),
            # The resume sweep's read of signals never fanned out: only those are in it.
            models.Index(
                fields=["created_at"],
                condition=Q(processed_at__isnull=True),
                name="signal_not_fanned_out",
            ),
        ]

    def __str__(self):
        return (
            f"{self.signal_type} {self.symbol or self.token_address[:8]} ({self.signal_strength})"
        )


class ExecutionStatus(models.TextChoices):
    PENDING = "pending"
    # Written by earlier versions, which claimed an agent before its buy; a buy now claims its
    # execution in its own statement (pending -> executed). Never bought again.
    EXECUTING = "executing"
    EXECUTED = "executed"
    SKIPPED = "skipped"
    FAILED = "failed"


class SignalExecution(models.Model):
    """What one agent did with one signal, and why. Unique per (signal, agent): the record
    itself is the guard that a signal is never executed twice for an agent."""

    # No index of its own: the unique (signal, agent) one serves lookups by signal.
    signal = models.ForeignKey(
        TradingSignal, on_delete=models.CASCADE, related_name="executions", db_index=False
    )
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="signal_executions")
    status = models.CharField(
        max_length=16, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING
    )
    reason = models.CharField(max_length=64, blank=True)
    # The figures behind the reason: metric values and bounds, the risk pause, the kill switch.
    details = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    transaction = models.ForeignKey(
        "trading.Transaction", null=True, blank=True, on_delete=models.SET_NULL
    )
    position = models.ForeignKey(
        "trading.Position", null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["signal", "agent"], name="one_execution_per_agent"),
        ]
        indexes = [
            # The resume sweep's read of buys still pending (signals_app.tasks.signals_resume):
            # only the few rows in flight are in it.
            models.Index(
                fields=["updated_at"], condition=Q(status="pending"), name="execution_pending"
            ),
        ]

    def __str__(self):
        return (
            f"signal #{self.signal_id} agent #{self.agent_id}: {self.status} {self.reason}".strip()
        )
