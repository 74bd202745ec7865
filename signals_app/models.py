from django.db import models
from django.db.models import Q

from agents.models import Agent, ApiKey, User
from nexgent.fields import AmountField, PercentField, PriceField


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
    # The buy's size and stop when the signal sets them (its AI strategist's); null: the
    # agent's position sizing and default stop loss.
    size_sol = AmountField(null=True, blank=True)
    stop_loss_percent = PercentField(null=True, blank=True)
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


# --- The AI strategist (signals_app.strategist) -------------------------------------------------


class ResponseFormat(models.TextChoices):
    # Structured output held to the answer's schema (OpenAI, vLLM, Ollama, OpenRouter).
    JSON_SCHEMA = "json_schema"
    # JSON mode, the common denominator (DeepSeek, Qwen): the prompt describes the shape.
    JSON_OBJECT = "json_object"


class LlmCredential(models.Model):
    """An operator's model for the AI strategist: an OpenAI-compatible endpoint, the model's
    name and its API key. The key is stored only encrypted, as wallet keys are
    (wallets/keystore.py), with the owner's id as the associated data."""

    owner = models.OneToOneField(User, on_delete=models.CASCADE, related_name="llm_credential")
    base_url = models.URLField(max_length=300)
    model = models.CharField(max_length=100)
    response_format = models.CharField(
        max_length=16, choices=ResponseFormat.choices, default=ResponseFormat.JSON_SCHEMA
    )
    encrypted_key = models.BinaryField(editable=False)
    key_salt = models.BinaryField(editable=False)
    key_nonce = models.BinaryField(editable=False)
    # The provider's prices, for each cycle's cost and the daily cost budget.
    input_usd_per_million_tokens = PriceField(default=0)
    output_usd_per_million_tokens = PriceField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.model} at {self.base_url}"


class StrategistLease(models.Model):
    """Who runs an agent's strategist now: a cycle starts only by moving `lease_until` from
    empty or past to the future in one conditional UPDATE, so two workers never run cycles
    of one agent at once; a crashed worker's lease simply runs out."""

    agent = models.OneToOneField(
        Agent, on_delete=models.CASCADE, primary_key=True, related_name="strategist_lease"
    )
    lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"agent #{self.agent_id} leased until {self.lease_until}"


class CycleStatus(models.TextChoices):
    RUNNING = "running"
    # The answer is stored and checked; its decisions are being executed.
    EXECUTING = "executing"
    DONE = "done"
    # Nothing executed this time (timeout, rate limit, bad answer, budget, ...): see `reason`.
    WAIT = "wait"


class StrategistCycle(models.Model):
    """One cycle of an agent's AI strategist: what it was shown, what the model answered, and
    what came of each decision. Unique per (agent, slot): a cycle is claimed by inserting its
    row, so two workers given the same slot run it once."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="strategist_cycles")
    # The start of the period the cycle belongs to.
    slot = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=CycleStatus.choices, default=CycleStatus.RUNNING
    )
    reason = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    model = models.CharField(max_length=100, blank=True)
    inputs_digest = models.CharField(max_length=64, blank=True)
    prompt = models.JSONField(default=list, blank=True)
    raw_answer = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost_usd = PriceField(default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "slot"], name="one_cycle_per_agent_slot"),
        ]
        indexes = [models.Index(fields=["agent", "started_at"])]

    def __str__(self):
        return f"agent #{self.agent_id} cycle {self.slot:%Y-%m-%d %H:%M}: {self.status}"


class DecisionAction(models.TextChoices):
    OPEN = "open"
    CLOSE = "close"
    HOLD = "hold"


class Verdict(models.TextChoices):
    ACCEPTED = "accepted"
    REFUSED = "refused"


class DecisionOutcome(models.TextChoices):
    PENDING = "pending"
    EXECUTED = "executed"
    SKIPPED = "skipped"
    FAILED = "failed"


class StrategistDecision(models.Model):
    """One decision of a cycle, the risk manager's verdict on it, and its execution. An open is
    executed as a signal for the agent alone (source "ai"), a close through the close service
    (reason "ai"); `outcome` moves from pending once, so a retried cycle executes nothing
    twice."""

    cycle = models.ForeignKey(StrategistCycle, on_delete=models.CASCADE, related_name="decisions")
    index = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=8, choices=DecisionAction.choices)
    token_address = models.CharField(max_length=64, blank=True)
    size_sol = AmountField(null=True, blank=True)
    stop_price = PriceField(null=True, blank=True)
    take_profit_price = PriceField(null=True, blank=True)
    confidence = PercentField(null=True, blank=True)
    reasoning = models.TextField(blank=True)
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    verdict_reason = models.CharField(max_length=64, blank=True)
    verdict_details = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(
        max_length=8, choices=DecisionOutcome.choices, default=DecisionOutcome.PENDING
    )
    outcome_reason = models.CharField(max_length=64, blank=True)
    signal = models.ForeignKey(
        TradingSignal, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.ForeignKey(
        "trading.Position", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["cycle_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "index"], name="one_decision_per_index"),
        ]

    def __str__(self):
        return f"{self.action} {self.token_address[:8]}: {self.verdict} {self.outcome}"
