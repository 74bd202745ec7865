from django.db import models
from django.db.models import Q

from agents.models import Agent, TradingMode, User


class AgentWallet(models.Model):
    """A wallet of the ledger. A simulation wallet holds virtual SOL and belongs to its agent
    for good (one per agent, opened with it). A live wallet is a Solana keypair in the keystore:
    it belongs to its owner, may be unassigned, and is assigned to at most one agent, which has
    at most one live wallet. Its private key is stored only encrypted (wallets/keystore.py):
    the ciphertext of the 32-byte seed with the salt and nonce that encrypted it."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="wallets")
    # SET_NULL: deleting an agent must never delete a live wallet's key (the agent's simulation
    # wallet is deleted with it, by wallets.services.agent_wallets_close).
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="wallets"
    )
    mode = models.CharField(max_length=16, choices=TradingMode.choices)
    address = models.CharField(max_length=64, unique=True)
    encrypted_secret = models.BinaryField(null=True, blank=True, editable=False)
    secret_salt = models.BinaryField(null=True, blank=True, editable=False)
    secret_nonce = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # One simulation wallet and at most one live wallet per agent (unassigned live
            # wallets have no agent: NULLs never collide).
            models.UniqueConstraint(fields=["agent", "mode"], name="one_wallet_per_agent_mode"),
            models.CheckConstraint(
                condition=Q(mode=TradingMode.LIVE) | Q(agent__isnull=False),
                name="simulation_wallet_has_agent",
            ),
            models.CheckConstraint(
                condition=Q(mode=TradingMode.SIMULATION)
                | Q(
                    encrypted_secret__isnull=False,
                    secret_salt__isnull=False,
                    secret_nonce__isnull=False,
                ),
                name="live_wallet_has_sealed_key",
            ),
        ]

    def __str__(self):
        whose = f"agent #{self.agent_id}" if self.agent_id else "no agent"
        return f"{self.mode} wallet {self.address[:10]}… of {whose}"
