from datetime import datetime

from django.db import models
from django.db.models import Q

from agents.models import Agent, User
from nexgent.fields import AmountField, PercentField, PriceField
from trading.rules import exits as rules
from trading.rules import risk
from wallets.models import AgentWallet


class PositionStatus(models.TextChoices):
    OPEN = "open"
    CLOSED = "closed"


# The rules' own close reasons, as choices (labels from the names: "Stop Loss").
CloseReason = models.TextChoices("CloseReason", [(r.name, r.value) for r in rules.CloseReason])


class TransactionType(models.TextChoices):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"
    SWAP = "SWAP"
    BURN = "BURN"
    # SOL a live swap paid to the network though it failed on chain (it moved nothing else).
    FEE = "FEE"


class Balance(models.Model):
    """What a wallet holds of one token (SOL included, under the wSOL mint), in whole units."""

    # No index of its own: the unique (wallet, token_address) one serves lookups by wallet, and
    # every buy inserts a balance row.
    wallet = models.ForeignKey(
        AgentWallet, on_delete=models.CASCADE, related_name="balances", db_index=False
    )
    token_address = models.CharField(max_length=64)
    token_symbol = models.CharField(max_length=32, blank=True)
    amount = AmountField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["wallet", "token_address"], name="one_balance_per_token"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="balance_never_negative"),
        ]

    def __str__(self):
        return f"{self.amount} {self.token_symbol or self.token_address[:8]}"


class BalanceSnapshot(models.Model):
    """The wallet's value at a moment, for balance history and drawdown."""

    wallet = models.ForeignKey(AgentWallet, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(db_index=True)
    sol_balance = AmountField()
    positions_value_sol = AmountField()
    total_value_sol = AmountField()
    sol_usd = PriceField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["wallet", "taken_at"])]

    def __str__(self):
        return f"{self.total_value_sol} SOL at {self.taken_at:%Y-%m-%d %H:%M}"


class Position(models.Model):
    """An open (or closed) holding of one token by one agent wallet, with its exit state."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="positions")
    wallet = models.ForeignKey(AgentWallet, on_delete=models.CASCADE, related_name="positions")
    signal = models.ForeignKey(
        "signals_app.TradingSignal", null=True, blank=True, on_delete=models.SET_NULL
    )
    token_address = models.CharField(max_length=64)
    token_symbol = models.CharField(max_length=32, blank=True)
    token_decimals = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=8, choices=PositionStatus.choices, default=PositionStatus.OPEN
    )
    # Average purchase price: total invested (fees included) / cumulative tokens bought.
    purchase_price = PriceField()
    total_invested_sol = AmountField()
    total_tokens_bought = AmountField()
    remaining_amount = AmountField()
    realized_sol = AmountField(default=0)
    peak_price = PriceField()
    lowest_price = PriceField()
    stop_loss_percent = PercentField()
    take_profit_levels_hit = models.PositiveIntegerField(default=0)
    take_profit_batch_start = models.PositiveIntegerField(default=0)
    moon_bag_activated = models.BooleanField(default=False)
    moon_bag_amount = AmountField(default=0)
    dca_count = models.PositiveIntegerField(default=0)
    last_dca_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "wallet", "token_address"],
                condition=Q(status="open"),
                name="one_open_position_per_token",
            ),
            models.CheckConstraint(
                condition=Q(remaining_amount__gte=0), name="position_remaining_never_negative"
            ),
        ]
        indexes = [models.Index(fields=["status", "token_address"])]

    def __str__(self):
        return f"{self.token_symbol or self.token_address[:8]} #{self.pk} ({self.status})"


class Transaction(models.Model):
    """One ledger entry. Balance effects: DEPOSIT +input; WITHDRAWAL -input; SWAP -input
    +output; BURN -input. Written in the same database transaction as its balance changes."""

    # No index of its own: the (agent, created_at) one serves lookups by agent. The ledger's
    # every entry pays for each index it has.
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="transactions", db_index=False
    )
    wallet = models.ForeignKey(AgentWallet, on_delete=models.CASCADE, related_name="transactions")
    position = models.ForeignKey(
        Position, null=True, blank=True, on_delete=models.SET_NULL, related_name="transactions"
    )
    signal = models.ForeignKey(
        "signals_app.TradingSignal", null=True, blank=True, on_delete=models.SET_NULL
    )
    type = models.CharField(max_length=16, choices=TransactionType.choices)
    input_mint = models.CharField(max_length=64)
    input_symbol = models.CharField(max_length=32, blank=True)
    input_amount = AmountField()
    output_mint = models.CharField(max_length=64, blank=True)
    output_symbol = models.CharField(max_length=32, blank=True)
    output_amount = AmountField(null=True, blank=True)
    price = PriceField(null=True, blank=True)
    protocol_fee_sol = AmountField(default=0)
    network_fee_sol = AmountField(default=0)
    cost_basis_sol = AmountField(null=True, blank=True)
    profit_loss_sol = AmountField(null=True, blank=True)
    sol_usd = PriceField(null=True, blank=True)
    is_dca = models.BooleanField(default=False)
    is_take_profit = models.BooleanField(default=False)
    tx_signature = models.CharField(max_length=100, blank=True)
    # A unique name for the action that wrote this entry ("tp:12:3"), so a retried or raced
    # action can never be written twice. A constraint rather than unique=True: on PostgreSQL
    # that would add a second index for LIKE queries, which no one makes of these keys. NULL,
    # not "", for an entry without one: NULLs do not collide in the constraint.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agent", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="one_entry_per_action"),
        ]

    def __str__(self):
        return f"{self.type} #{self.pk}: {self.input_amount} {self.input_symbol or self.input_mint[:8]}"


class LiveSwapStatus(models.TextChoices):
    PENDING = "pending"
    LANDED = "landed"
    FAILED = "failed"


class LiveSwap(models.Model):
    """A live swap transaction, recorded with its signature BEFORE it is sent: the signature is
    the idempotency key of the on-chain side. Pending until the chain says it landed (its
    amounts read back from getTransaction) or can no longer land (failed, with the reason).
    `action_key` names the action it was sent for, the key its ledger entry carries
    (Transaction.idempotency_key); the entry's tx_signature is this signature."""

    wallet = models.ForeignKey(AgentWallet, on_delete=models.CASCADE, related_name="live_swaps")
    action_key = models.CharField(max_length=100)
    side = models.CharField(max_length=4)  # "buy" (SOL -> token) or "sell"
    mint = models.CharField(max_length=64)
    decimals = models.PositiveSmallIntegerField()
    quoted_in_raw = models.DecimalField(max_digits=20, decimal_places=0)
    signature = models.CharField(max_length=100, unique=True)
    # The signed bytes, sent again until the swap lands or its blockhash expires, also after a
    # restart. Signed already: they can move only what this one swap moves.
    signed_transaction = models.BinaryField(editable=False)
    last_valid_block_height = models.BigIntegerField()
    status = models.CharField(
        max_length=8, choices=LiveSwapStatus.choices, default=LiveSwapStatus.PENDING
    )
    reason = models.CharField(max_length=32, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # What the landed transaction did to the wallet (fee payer), from getTransaction: lamports
    # (fee included), raw token units of `mint`, and the fee. Set on a failed swap that landed
    # too: its fee was paid.
    sol_delta_lamports = models.BigIntegerField(null=True, blank=True)
    token_delta_raw = models.DecimalField(max_digits=21, decimal_places=0, null=True, blank=True)
    fee_lamports = models.BigIntegerField(null=True, blank=True)
    # The shadow fill (docs/decisions.md "Shadow fills"): the quote's output and what the
    # simulated venue fills on the same quote, fees included, recorded beside the real swap.
    quoted_out_raw = models.DecimalField(max_digits=20, decimal_places=0, null=True, blank=True)
    paper_sol_amount = AmountField(null=True, blank=True)
    paper_token_amount = AmountField(null=True, blank=True)
    paper_fee_sol = AmountField(null=True, blank=True)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One swap in flight per wallet and token: a second one (a retry, another worker)
            # waits until the chain has decided the first.
            models.UniqueConstraint(
                fields=["wallet", "mint"],
                condition=Q(status="pending"),
                name="one_pending_swap_per_token",
            ),
        ]
        indexes = [models.Index(fields=["action_key"])]

    def __str__(self):
        return f"{self.side} {self.mint[:8]} {self.signature[:12]}… ({self.status})"


class ClosedTrade(models.Model):
    """The record of a position once it is fully closed, with its realised P/L."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="closed_trades")
    wallet = models.ForeignKey(AgentWallet, on_delete=models.CASCADE, related_name="closed_trades")
    position = models.OneToOneField(Position, on_delete=models.CASCADE, related_name="closed_trade")
    token_address = models.CharField(max_length=64)
    token_symbol = models.CharField(max_length=32, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(db_index=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices)
    purchase_price = PriceField()
    sale_price = PriceField(null=True, blank=True)
    tokens_bought = AmountField()
    invested_sol = AmountField()
    received_sol = AmountField()
    profit_loss_sol = AmountField()
    profit_loss_usd = AmountField(null=True, blank=True)
    change_percent = PercentField()
    sol_usd = PriceField(null=True, blank=True)

    class Meta:
        ordering = ["-closed_at", "-id"]
        indexes = [models.Index(fields=["agent", "closed_at"])]

    def __str__(self):
        return f"{self.token_symbol or self.token_address[:8]} {self.close_reason} {self.profit_loss_sol} SOL"


# --- Risk guards and the kill switch (trading-rules.md section 8) -------------------------------


class RiskPauseReason(models.TextChoices):
    DAILY_LOSS_LIMIT = risk.DAILY_LOSS_LIMIT, "Daily loss limit"
    MAX_DRAWDOWN = risk.MAX_DRAWDOWN, "Max drawdown"
    STOP_LOSS_COOLDOWN = risk.STOP_LOSS_COOLDOWN, "Cooldown after stop losses"


class RiskPause(models.Model):
    """A risk guard stopped an agent's new buys (trading-rules.md section 8); its exits run on.

    Active while `ended_at` is empty and `until`, if set, is still ahead. A pause without
    `until` (max drawdown) lasts until its guard clears or an operator ends it.
    """

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="risk_pauses")
    reason = models.CharField(max_length=32, choices=RiskPauseReason.choices)
    started_at = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_note = models.CharField(max_length=200, blank=True)
    # What tripped the guard: the figures and limits at that moment, JSON-ready.
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # Two fan-outs evaluating the same agent at once record one pause, not two.
            models.UniqueConstraint(
                fields=["agent", "reason"],
                condition=Q(ended_at__isnull=True),
                name="one_open_risk_pause_per_reason",
            ),
        ]
        indexes = [models.Index(fields=["agent", "ended_at"])]
        db_table = "agents_riskpause"  # the table it had when the agents app held it

    def __str__(self):
        return (
            f"{self.reason} pause of agent #{self.agent_id} from {self.started_at:%Y-%m-%d %H:%M}"
        )

    def is_active(self, now: datetime) -> bool:
        return self.ended_at is None and (self.until is None or self.until > now)


class KillSwitchMode(models.TextChoices):
    OFF = "off", "Off: normal trading"
    HALT = "halt", "Halt: no buys and no sells"
    REDUCE_ONLY = "reduce_only", "Reduce only: sells only"


class KillSwitch(models.Model):
    """The operator's global kill switch: one row (pk 1); no row at all means off."""

    SINGLETON_PK = 1

    mode = models.CharField(
        max_length=16, choices=KillSwitchMode.choices, default=KillSwitchMode.OFF
    )
    set_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "agents_killswitch"
        verbose_name = "kill switch"
        verbose_name_plural = "kill switch"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="kill_switch_singleton")]

    def __str__(self):
        return f"kill switch: {self.mode}"


class EquityPeak(models.Model):
    """The highest equity a wallet has reached, for the max-drawdown guard.

    Stored net of deposits and withdrawals (equity minus net transfers at the peak), so moving
    money in or out of the wallet is neither a gain that raises the peak nor a drawdown.
    """

    wallet = models.OneToOneField(AgentWallet, on_delete=models.CASCADE, related_name="equity_peak")
    peak_sol = AmountField()
    peak_at = models.DateTimeField()

    class Meta:
        db_table = "agents_equitypeak"

    def __str__(self):
        return f"peak {self.peak_sol} SOL (net of transfers) of wallet #{self.wallet_id}"


class ManualBuy(models.Model):
    """What a manual buy (POST trades/execute) with an Idempotency-Key asked for: a retry with
    the key answers the trade the first one made, and the key for another buy is refused.
    The trade itself is the ledger entry keyed `manual:<agent>:<key>`, which can be written
    once whatever the timing of the retries."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="manual_buys")
    idempotency_key = models.CharField(max_length=64)
    token_address = models.CharField(max_length=64)
    # None: sized by the agent's rules.
    sol_amount = AmountField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "idempotency_key"], name="one_manual_buy_per_key"
            )
        ]

    def __str__(self):
        return (
            f"manual buy {self.idempotency_key} of {self.token_address} by agent #{self.agent_id}"
        )
