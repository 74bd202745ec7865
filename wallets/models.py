from django.db import models

from agents.models import Agent, TradingMode


class AgentWallet(models.Model):
    """One wallet per agent and mode. A simulation wallet holds virtual SOL; a live wallet has
    an on-chain address and an encrypted key."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="wallets")
    mode = models.CharField(max_length=16, choices=TradingMode.choices)
    address = models.CharField(max_length=64, unique=True)
    encrypted_secret = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "mode"], name="one_wallet_per_agent_mode"),
        ]

    def __str__(self):
        return f"{self.mode} wallet {self.address[:10]}… of agent #{self.agent_id}"
