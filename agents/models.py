from datetime import datetime

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import Q

from agents import risk
from nexgent.fields import AmountField


class TradingMode(models.TextChoices):
    SIMULATION = "simulation", "Simulation"
    LIVE = "live", "Live"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """An operator. Logs in by email; locked for a while after repeated failed logins."""

    username = None
    email = models.EmailField(unique=True)
    failed_login_count = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = UserManager()

    def __str__(self):
        return self.email


class Agent(models.Model):
    """One strategy configuration with its wallets. `config` holds only what differs from the
    defaults; the effective config is the defaults deep-merged with it."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=50, validators=[MinLengthValidator(3)])
    trading_mode = models.CharField(
        max_length=16, choices=TradingMode.choices, default=TradingMode.SIMULATION
    )
    automated_trading_simulation = models.BooleanField(default=True)
    automated_trading_live = models.BooleanField(default=False)
    config = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["owner", "is_active"])]

    def __str__(self):
        return f"{self.name} (#{self.pk})"

    def automated_trading_on(self, mode: str) -> bool:
        if mode == TradingMode.LIVE:
            return self.automated_trading_live
        return self.automated_trading_simulation


class ApiKeyScope(models.TextChoices):
    SIGNALS = "signals"
    AGENTS = "agents"
    POSITIONS = "positions"
    BALANCES = "balances"
    TRANSACTIONS = "transactions"
    HISTORY = "history"
    FULL_ACCESS = "full_access"


class ApiKey(models.Model):
    """An API key. Only its SHA-256 is stored; the key itself is shown once at creation."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(key_hash=""), name="apikey_hash_not_empty"),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return ApiKeyScope.FULL_ACCESS in self.scopes or scope in self.scopes


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

    wallet = models.OneToOneField(
        "wallets.AgentWallet", on_delete=models.CASCADE, related_name="equity_peak"
    )
    peak_sol = AmountField()
    peak_at = models.DateTimeField()

    def __str__(self):
        return f"peak {self.peak_sol} SOL (net of transfers) of wallet #{self.wallet_id}"
