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


def wallet_for_mode(agent: Agent, mode: str) -> AgentWallet | None:
    return AgentWallet.objects.filter(agent=agent, mode=mode).first()
