"""Writes of the wallets app: simulation wallets opened with their agents, live wallets
created or imported into the keystore, assigned to agents, and their keys exported on an
operator's explicit request. Ledger-side actions on wallets (unassign, reset) need the ledger
and live in trading.wallet_services."""

import logging
import re
import secrets
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from rest_framework import status
from solders.keypair import Keypair

from agents.models import Agent, TradingMode, User
from nexgent.api import DomainError
from prices.services import token_decimals_remember, token_decimals_stored
from wallets import keystore, rpc
from wallets.keys import KeyFormatError, keypair_from_text
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)

SIMULATION_ADDRESS_PREFIX = "sim_"
# WALLET_1, WALLET_2, ...: private keys handed to the engine by its environment.
ENV_WALLET = re.compile(r"WALLET_([1-9][0-9]{0,5})")


class WalletConflict(DomainError):
    status_code = status.HTTP_409_CONFLICT


def wallet_create_simulation(*, agent: Agent) -> AgentWallet:
    """The agent's simulation wallet: virtual SOL only, so its address is a local name."""
    with transaction.atomic():
        wallet, _ = AgentWallet.objects.get_or_create(
            agent=agent,
            mode=TradingMode.SIMULATION,
            defaults={
                "owner_id": agent.owner_id,
                "address": SIMULATION_ADDRESS_PREFIX + secrets.token_hex(16),
            },
        )
    return wallet


def agent_wallets_open(*, instance: Agent, created: bool, raw: bool = False, **kwargs) -> None:
    """A new agent's simulation wallet, in the transaction that saves the agent (post_save)."""
    if created and not raw:
        wallet_create_simulation(agent=instance)


def agent_wallets_close(*, instance: Agent, **kwargs) -> None:
    """Before an agent is deleted (pre_delete): its simulation wallet goes with it, its ledger
    included; a live wallet stays in the keystore, unassigned (the agent foreign key is
    SET_NULL), so deleting an agent never loses a key to real funds."""
    AgentWallet.objects.filter(agent=instance, mode=TradingMode.SIMULATION).delete()


# --- Live wallets -------------------------------------------------------------------------------


def wallet_create_live(*, owner: User) -> AgentWallet:
    """A new Solana keypair, stored encrypted, assigned to no agent."""
    return _live_wallet_store(owner=owner, keypair=Keypair(), how="created")


def wallet_import(*, owner: User, secret: str) -> AgentWallet:
    """A live wallet from a private key the operator holds (wallets.keys.ACCEPTED_FORMATS).
    A bad key is a 400 naming `secret`; a key already in the keystore is a 409."""
    keypair = _keypair_or_400(secret, field="secret")
    if AgentWallet.objects.filter(address=str(keypair.pubkey())).exists():
        raise _already_stored(keypair)
    return _live_wallet_store(owner=owner, keypair=keypair, how="imported")


def wallets_load_env(*, owner: User, environ: Mapping[str, str]) -> list[tuple[AgentWallet, bool]]:
    """The wallets of WALLET_1, WALLET_2, ... in `environ`, each with whether it was stored
    now. Idempotent: a key already in the keystore (this owner's) is left as it is, so the same
    key twice, or a second start, makes one wallet. Every variable is read before anything is
    written: one bad key stores none."""
    named = sorted(
        ((int(match[1]), name) for name in environ if (match := ENV_WALLET.fullmatch(name))),
    )
    keypairs = {name: _keypair_or_400(environ[name], field=name) for _, name in named}
    loaded = []
    with transaction.atomic():
        for _, name in named:
            keypair = keypairs[name]
            existing = AgentWallet.objects.filter(address=str(keypair.pubkey())).first()
            if existing is not None:
                if existing.owner_id != owner.pk or existing.mode != TradingMode.LIVE:
                    raise WalletConflict(
                        f"{name}: wallet {existing.address} belongs to another operator",
                        code="wallet_exists",
                    )
                loaded.append((existing, False))
            else:
                loaded.append((_live_wallet_store(owner=owner, keypair=keypair, how=name), True))
    return loaded


def _keypair_or_400(text: str, *, field: str) -> Keypair:
    try:
        return keypair_from_text(text)
    except KeyFormatError as exc:
        raise DomainError(
            f"{field} is not a private key we can read",
            code="validation_error",
            details=[{"field": field, "message": str(exc)}],
        ) from None


def _already_stored(keypair: Keypair) -> WalletConflict:
    return WalletConflict(
        f"wallet {keypair.pubkey()} is already in the keystore", code="wallet_exists"
    )


def _live_wallet_store(*, owner: User, keypair: Keypair, how: str) -> AgentWallet:
    address = str(keypair.pubkey())
    # Sealed before the transaction: scrypt takes tens of milliseconds, no lock is held for it.
    sealed = keystore.seal(bytes(keypair)[: keystore.KEY_BYTES], address=address)
    try:
        with transaction.atomic():
            wallet = AgentWallet.objects.create(
                owner=owner,
                mode=TradingMode.LIVE,
                address=address,
                encrypted_secret=sealed.ciphertext,
                secret_salt=sealed.salt,
                secret_nonce=sealed.nonce,
            )
    except IntegrityError:
        raise _already_stored(keypair) from None  # the same key, stored at the same moment
    logger.info("live wallet %s %s for user #%s", address, how, owner.pk)
    return wallet


def wallet_keypair(wallet: AgentWallet) -> Keypair:
    """The live wallet's keypair, decrypted (to sign, or to export). The decrypted key must be
    the wallet's: anything else is a damaged keystore, never a key to sign with."""
    if wallet.mode != TradingMode.LIVE or wallet.encrypted_secret is None:
        raise DomainError("a simulation wallet has no key", code="simulation_wallet")
    seed = keystore.unseal(
        keystore.Sealed(
            ciphertext=bytes(wallet.encrypted_secret),
            salt=bytes(wallet.secret_salt),
            nonce=bytes(wallet.secret_nonce),
        ),
        address=wallet.address,
    )
    keypair = Keypair.from_seed(seed)
    if str(keypair.pubkey()) != wallet.address:
        raise keystore.KeystoreError(
            f"the stored key of wallet {wallet.address} is not that wallet's",
            code="keystore_damaged",
        )
    return keypair


def wallet_assign(*, wallet: AgentWallet, agent: Agent) -> AgentWallet:
    """Give the agent this live wallet. Assigning it again to the same agent changes nothing;
    a wallet of another agent must be unassigned first, and an agent has one live wallet."""
    if wallet.owner_id != agent.owner_id:
        raise DomainError("not your agent", code="not_found", status_code=404)
    with transaction.atomic():
        wallet = AgentWallet.objects.select_for_update().get(pk=wallet.pk)
        if wallet.mode != TradingMode.LIVE:
            raise WalletConflict(
                "a simulation wallet belongs to its agent for good", code="simulation_wallet"
            )
        if wallet.agent_id == agent.pk:
            return wallet
        if wallet.agent_id is not None:
            raise WalletConflict(
                f"the wallet is assigned to agent #{wallet.agent_id}: unassign it first",
                code="wallet_assigned",
            )
        wallet.agent = agent
        try:
            with transaction.atomic():
                wallet.save(update_fields=["agent"])
        except IntegrityError:
            # one_wallet_per_agent_mode: the agent has (or at this moment got) a live wallet.
            raise WalletConflict(
                f"agent #{agent.pk} already has a live wallet: unassign it first",
                code="agent_has_live_wallet",
            ) from None
    logger.info("live wallet %s assigned to agent #%s", wallet.address, agent.pk)
    return wallet


def wallet_secret_export(*, wallet: AgentWallet, user: User, password: str) -> str:
    """The wallet's secret key (base58, 64 bytes: what Phantom and solana-keygen import), for
    its owner, who types their password again. Logged (the address, never the key)."""
    if wallet.owner_id != user.pk:
        raise DomainError("Not found.", code="not_found", status_code=404)
    if not user.check_password(password):
        logger.warning(
            "refused to export wallet %s: wrong password (user #%s)", wallet.address, user.pk
        )
        raise DomainError(
            "wrong password",
            code="wrong_password",
            status_code=status.HTTP_403_FORBIDDEN,
            details=[{"field": "password", "message": "Not your password."}],
        )
    secret = str(wallet_keypair(wallet))
    logger.warning("exported the key of wallet %s to user #%s", wallet.address, user.pk)
    return secret


# --- Token decimals from the chain --------------------------------------------------------------


def token_decimals_onchain(mint: str) -> int:
    """The mint's decimals: stored (prices' token table), else read from the mint account
    over RPC and stored. ExternalServiceError when the chain cannot say."""
    known = token_decimals_stored(mint)
    if known is not None:
        return known
    return token_decimals_remember(mint, rpc.token_decimals_fetch(mint))
