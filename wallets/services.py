import secrets

from django.db import transaction

from agents.models import Agent, TradingMode
from wallets.models import AgentWallet

SIMULATION_ADDRESS_PREFIX = "sim_"


def wallet_create_simulation(*, agent: Agent) -> AgentWallet:
    """The agent's simulation wallet: virtual SOL only, so its address is a local name."""
    with transaction.atomic():
        wallet, _ = AgentWallet.objects.get_or_create(
            agent=agent,
            mode=TradingMode.SIMULATION,
            defaults={"address": SIMULATION_ADDRESS_PREFIX + secrets.token_hex(16)},
        )
    return wallet


def agent_wallets_open(*, instance: Agent, created: bool, raw: bool = False, **kwargs) -> None:
    """A new agent's simulation wallet, in the transaction that saves the agent (post_save)."""
    if created and not raw:
        wallet_create_simulation(agent=instance)
