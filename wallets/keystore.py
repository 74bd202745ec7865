"""The keystore: live wallets' private keys encrypted at rest (docs/security.md).

A key (its 32-byte seed) is sealed under the master secret by nexgent.sealing, which the
operators' notification URLs share: AES-256-GCM under a key derived with scrypt from the master
secret and a salt of its own. The wallet's address is the associated data, so a ciphertext
copied onto another wallet's row does not open. Salt, nonce and ciphertext are stored beside
each other on the wallet; the master secret never is.
"""

from collections.abc import Callable
from typing import TypeVar

from rest_framework import status

from nexgent import sealing
from nexgent.api import DomainError
from nexgent.sealing import (
    DEFAULT_KEY_FILE,
    KEY_BYTES,
    MASTER_KEY_MIN_LENGTH,
    Sealed,
    default_key_file,
)

__all__ = [
    "DEFAULT_KEY_FILE",
    "KEY_BYTES",
    "MASTER_KEY_MIN_LENGTH",
    "KeystoreError",
    "Sealed",
    "default_key_file",
    "master_secret",
    "seal",
    "unseal",
]

T = TypeVar("T")


class KeystoreError(DomainError):
    """The keystore cannot work: no usable master key, or the master key does not open a
    stored key (a wrong master key, or a damaged entry). No secret is in the message."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE

    def __init__(self, message: str, *, code: str = "keystore_unavailable"):
        super().__init__(message, code=code)


def _refused_as_keystore(call: Callable[[], T]) -> T:
    try:
        return call()
    except sealing.SealingError as error:
        raise KeystoreError(error.message, code=error.code) from None


def seal(secret: bytes, *, address: str) -> Sealed:
    return _refused_as_keystore(lambda: sealing.seal(secret, context=address))


def unseal(sealed: Sealed, *, address: str) -> bytes:
    """The key, or KeystoreError: GCM's tag makes a wrong master key fail here, never yield a
    different key."""
    return _refused_as_keystore(
        lambda: sealing.unseal(sealed, context=address, what=f"the key of wallet {address}")
    )


def master_secret() -> bytes:
    return _refused_as_keystore(sealing.master_secret)
