"""Secrets encrypted at rest under the master secret (docs/security.md): the live wallets' keys
(wallets/keystore.py) and the operators' notification URLs (agents.models.NotificationChannel).

A secret is encrypted with AES-256-GCM under a key derived with scrypt from the master secret
and a random salt of its own, with a random nonce; `context` (what the secret belongs to) is the
associated data, so a ciphertext copied onto another row does not open. Salt, nonce and
ciphertext are stored beside each other; the master secret never is.

The master secret is WALLET_MASTER_KEY, or the contents of WALLET_MASTER_KEY_FILE. With
neither, the embedded default creates a key file in VAR_DIR (mode 0600) on first use and logs
where it is; a production deployment (DATABASE_URL) refuses instead, since a key invented on
one host would not be the key of the next.
"""

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.conf import settings

from nexgent.secret_files import secret_file_read_or_create

logger = logging.getLogger(__name__)

SALT_BYTES = 16
NONCE_BYTES = 12  # GCM's standard nonce; random, and never reused with one derived key
KEY_BYTES = 32  # AES-256
# scrypt cost: 32 MiB and 75-95 ms a derivation on the benchmark machine, paid once per
# encryption of a secret and once per secret and master secret in a process to decrypt it
# (`_unsealing_key`).
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
# A master secret shorter than this is refused: scrypt slows guessing, it does not make a
# short password strong.
MASTER_KEY_MIN_LENGTH = 32
DEFAULT_KEY_FILE = "wallet_master_key"


class SealingError(Exception):
    """Sealing cannot work: no usable master key, or the master key does not open a stored
    secret (a wrong master key, or a damaged entry). No secret is in the message. The apps turn
    it into their own refusal (wallets.keystore.KeystoreError, a 503)."""

    def __init__(self, message: str, *, code: str = "keystore_unavailable"):
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class Sealed:
    """An encrypted secret with what it takes to open it, given the master secret."""

    ciphertext: bytes
    salt: bytes
    nonce: bytes


def seal(secret: bytes, *, context: str) -> Sealed:
    salt, nonce = os.urandom(SALT_BYTES), os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(_derive(salt)).encrypt(nonce, secret, context.encode())
    return Sealed(ciphertext=ciphertext, salt=salt, nonce=nonce)


def unseal(sealed: Sealed, *, context: str, what: str) -> bytes:
    """The secret, or SealingError naming `what` could not be opened: GCM's tag makes a wrong
    master key fail here, never yield a different secret."""
    try:
        return AESGCM(_unsealing_key(master_secret(), sealed.salt)).decrypt(
            sealed.nonce, sealed.ciphertext, context.encode()
        )
    except InvalidTag:
        raise SealingError(
            f"the master key does not open {what}: is WALLET_MASTER_KEY "
            "(or WALLET_MASTER_KEY_FILE) the one it was stored with?",
            code="wrong_master_key",
        ) from None


def _derive(salt: bytes, master: bytes | None = None) -> bytes:
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(master_secret() if master is None else master)


# Every live swap unseals its wallet's key to sign, so a derivation there would be most of the
# engine's own time between a trigger and the swap sent (bench/live.py). The derived key is
# kept per (master secret, salt): it opens only the secret sealed with that salt, and the
# master secret that derives every one of them is in this process's memory already, so keeping
# it exposes nothing more. GCM still checks every decryption; another master secret is another
# entry.
@functools.lru_cache(maxsize=4096)
def _unsealing_key(master: bytes, salt: bytes) -> bytes:
    return _derive(salt, master)


def master_secret() -> bytes:
    if settings.WALLET_MASTER_KEY:
        secret, source = settings.WALLET_MASTER_KEY, "WALLET_MASTER_KEY"
    elif settings.WALLET_MASTER_KEY_FILE:
        # A file that is named must exist: creating it would turn a typo into a new key.
        source = "WALLET_MASTER_KEY_FILE"
        secret = _read_key_file(Path(settings.WALLET_MASTER_KEY_FILE), source)
    elif not settings.DATABASE_URL:
        source = "the embedded default's key file"
        secret = _default_key_file()
    else:
        raise SealingError(
            "no wallet master key: set WALLET_MASTER_KEY or WALLET_MASTER_KEY_FILE "
            "(docs/security.md)",
            code="master_key_missing",
        )
    if len(secret) < MASTER_KEY_MIN_LENGTH:
        raise SealingError(
            f"the wallet master key from {source} is shorter than {MASTER_KEY_MIN_LENGTH} "
            "characters",
            code="master_key_too_short",
        )
    return secret.encode()


def _read_key_file(path: Path, source: str) -> str:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SealingError(
            f"cannot read the wallet master key file named by {source}: {exc.__class__.__name__}",
            code="master_key_missing",
        ) from None


def default_key_file() -> Path:
    return Path(settings.VAR_DIR) / DEFAULT_KEY_FILE


def _default_key_file() -> str:
    path = default_key_file()
    try:
        secret, created = secret_file_read_or_create(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise SealingError(
            f"cannot read the wallet master key file {path}: {exc.__class__.__name__}",
            code="master_key_missing",
        ) from None
    if created:
        logger.warning(
            "created the wallet master key file %s (mode 0600): back it up with the database; "
            "without it no live wallet's key can be read. Set WALLET_MASTER_KEY or "
            "WALLET_MASTER_KEY_FILE to use your own.",
            path,
        )
    return secret
