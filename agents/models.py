from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import Q

from agents.config import ConfigValidationError, effective_config
from nexgent.inputs import validate_has_a_letter


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
    """An operator. Logs in by email, through the login guard (agents.login_guard)."""

    username = None
    email = models.EmailField(unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = UserManager()

    def __str__(self):
        return self.email


class LoginCounter(models.Model):
    """One counter of the login guard (agents.login_guard): attempts per address, failures per
    email and address or per email, or an address an account logged in from. The key is a
    keyed hash: no email or address is stored in clear."""

    key = models.CharField(max_length=64, unique=True)
    count = models.PositiveIntegerField(default=0)
    window_started = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"login counter {self.key[:8]}"


class AuthSession(models.Model):
    """One API login. Its refresh and access tokens carry the session's id (claim `sid`), so
    logging out ends every token of the login at once; only the current refresh token's id is
    kept (never a token), and a refresh token used twice ends the session (agents.auth_services).
    """

    id = models.CharField(max_length=32, primary_key=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    refresh_jti = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"session {self.id[:8]} of {self.user_id}"


def validate_agent_config(value) -> None:
    """The one schema every saved config goes through (agents.config), as a field validator:
    the admin's form and `full_clean` report each bad field on `config`."""
    try:
        effective_config(value)
    except ConfigValidationError as error:
        raise ValidationError(
            [f"{detail['field'] or 'config'}: {detail['message']}" for detail in error.details]
        ) from None


class Agent(models.Model):
    """One strategy configuration with its wallets. `config` holds only what differs from the
    defaults; the effective config is the defaults deep-merged with it."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(
        max_length=50, validators=[MinLengthValidator(3), validate_has_a_letter]
    )
    trading_mode = models.CharField(
        max_length=16, choices=TradingMode.choices, default=TradingMode.SIMULATION
    )
    automated_trading_simulation = models.BooleanField(default=True)
    automated_trading_live = models.BooleanField(default=False)
    config = models.JSONField(default=dict, blank=True, validators=[validate_agent_config])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["owner", "is_active"])]

    def __str__(self):
        return f"{self.name} (#{self.pk})"

    def save(self, *args, **kwargs):
        # Every way a config is saved (the API, the admin, a shell through the model) goes
        # through the same schema: a config the engine cannot read never reaches the table.
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "config" in update_fields:
            try:
                validate_agent_config(self.config)
            except ValidationError as error:
                raise ValidationError({"config": error.messages}) from None
        super().save(*args, **kwargs)

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
    name = models.CharField(max_length=100, validators=[validate_has_a_letter])
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


class NotificationEvent(models.TextChoices):
    TRADE_OPENED = "trade_opened", "Trade opened"
    TRADE_CLOSED = "trade_closed", "Trade closed"
    RISK_GUARD_TRIPPED = "risk_guard_tripped", "Risk guard tripped"
    DATA_SOURCE_STALE = "data_source_stale", "Data source stale or down"
    LIVE_TRADE_FAILED = "live_trade_failed", "Live trade failed"


class NotificationChannel(models.Model):
    """Where an operator is told of events: one Apprise URL (Telegram, Discord, Slack, e-mail,
    ...). The URL holds the service's credentials, so it is stored only encrypted under the
    master secret (nexgent.sealing), its owner's id the associated data; only its scheme is kept
    in clear, to show the channel masked (docs/notifications.md)."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notification_channels")
    label = models.CharField(max_length=100, validators=[validate_has_a_letter])
    url_scheme = models.CharField(max_length=32, editable=False)
    url_ciphertext = models.BinaryField(editable=False)
    url_salt = models.BinaryField(editable=False)
    url_nonce = models.BinaryField(editable=False)
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["owner", "enabled"])]

    def __str__(self):
        return f"{self.label} ({self.masked_url})"

    @property
    def masked_url(self) -> str:
        return f"{self.url_scheme}://…"

    def events_text(self) -> str:
        if set(self.events) >= set(NotificationEvent.values):
            return "All events"
        return ", ".join(NotificationEvent(event).label for event in self.events)
