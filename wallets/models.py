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


class WalletReconcile(models.Model):
    """The latest reconcile of a live wallet: its balances on chain beside the ledger's, as of
    the last read that succeeded, and whether the last attempt failed. One row per wallet,
    overwritten by each run (trading.reconcile writes it); history is in the ledger's DEPOSIT
    entries and the logs. Amounts are exact decimal strings in `balances`:
    [{"token_address", "on_chain", "ledger", "drift"}], drift = on chain - ledger, SOL under
    the wSOL mint as in the ledger."""

    wallet = models.OneToOneField(
        AgentWallet, primary_key=True, on_delete=models.CASCADE, related_name="reconcile"
    )
    checked_at = models.DateTimeField(help_text="The last attempt, failed or not.")
    succeeded_at = models.DateTimeField(null=True, blank=True)
    # The context slot of the last read that succeeded: an older read (a slow run racing a
    # newer one) is never compared over it.
    slot = models.PositiveBigIntegerField(null=True, blank=True)
    balances = models.JSONField(default=list, blank=True)
    has_drift = models.BooleanField(default=False)
    trade_in_flight = models.BooleanField(
        default=False,
        help_text="A live trade's outcome was not in the ledger yet: drift may be that trade's.",
    )
    error = models.TextField(blank=True, help_text="Why the last attempt failed; empty if not.")

    def __str__(self):
        state = "failing" if self.error else "drift" if self.has_drift else "in step"
        if self.has_drift and self.trade_in_flight:
            state = "drift, a trade in flight"
        return f"reconcile of {self.wallet_id}: {state}"
