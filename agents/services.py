import secrets

from django.db import transaction
from django.utils import timezone

from agents import config as agent_config
from agents.authentication import KEY_PREFIX, hash_api_key
from agents.models import Agent, ApiKey, ApiKeyScope, TradingMode, User
from nexgent import realtime
from nexgent.api import DomainError

AGENT_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "trading_mode",
        "automated_trading_simulation",
        "automated_trading_live",
        "is_active",
        "config",
    }
)

# The operator `make run` and `make demo` create, so a new user can log in at once.
DEMO_OPERATOR_EMAIL = "demo@nexgent.local"


def operator_create(*, email: str) -> tuple[User, str]:
    """A new operator (a superuser) and its random password: the only time it exists in clear."""
    password = secrets.token_urlsafe(12)
    return User.objects.create_superuser(email=email, password=password), password


def agent_create(
    *,
    owner: User,
    name: str,
    trading_mode: str = TradingMode.SIMULATION,
    automated_trading_simulation: bool = True,
    automated_trading_live: bool = False,
    is_active: bool = True,
    config: dict | None = None,
) -> Agent:
    """Create an agent. Its simulation wallet is opened in the same transaction by the wallets
    app, on the agent's first save (wallets.services.agent_wallets_open)."""
    with transaction.atomic():
        agent = Agent(
            owner=owner,
            name=name,
            trading_mode=trading_mode,
            automated_trading_simulation=automated_trading_simulation,
            automated_trading_live=automated_trading_live,
            is_active=is_active,
            config=config or {},
        )
        agent.full_clean()
        agent.save()
    return agent


def agent_update(*, agent: Agent, **changes) -> Agent:
    """Change an agent's fields, validated by the model as a whole (the config by its schema),
    and save only what changed."""
    unknown = sorted(set(changes) - AGENT_EDITABLE_FIELDS)
    if unknown:
        raise DomainError(
            "Not editable: " + ", ".join(unknown),
            code="validation_error",
            details=[{"field": name, "message": "not an editable field"} for name in unknown],
        )
    for name, value in changes.items():
        setattr(agent, name, value)
    agent.full_clean()
    agent.save(update_fields=[*changes, "updated_at"] if changes else None)
    return agent


def agent_delete(*, agent: Agent) -> None:
    """Delete the agent: its simulation wallet and ledger go with it, a live wallet stays in the
    keystore unassigned (wallets.services.agent_wallets_close)."""
    with transaction.atomic():
        agent.delete()


def agent_config_replace(*, agent: Agent, config: dict) -> Agent:
    """Store `config` as the agent's whole config (PUT agents/{id}/config): only what differs
    from the defaults is kept. Raises ConfigValidationError naming every bad field."""
    overrides = agent_config.validate_overrides(agent_config.merge_overrides({}, config))
    Agent.objects.filter(pk=agent.pk).update(config=overrides, updated_at=timezone.now())
    agent.config = overrides
    return agent


def api_key_create(*, owner: User, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create an API key; the raw key is returned once and never stored."""
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if unknown or not scopes:
        raise DomainError(
            "scopes must be a non-empty list of " + ", ".join(ApiKeyScope.values),
            code="validation_error",
            details=[
                {
                    "field": "scopes",
                    "message": f"unknown scopes: {unknown}" if unknown else "required",
                }
            ],
        )
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        owner=owner,
        name=name,
        prefix=prefix,
        key_hash=hash_api_key(raw_key),
        scopes=sorted(set(scopes)),
    )
    return key, raw_key


def api_key_revoke(*, key: ApiKey) -> None:
    """Revoke the key: refused on every request from now on, its open WebSockets closed."""
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        realtime.credential_revoked(realtime.credential_group("apikey", key.pk))
