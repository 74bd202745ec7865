"""Reading a Solana private key from the text an operator pastes or an environment variable
holds. Pure: no Django. An error says which formats are accepted and what was wrong with the
shape of the input, and never repeats the input itself."""

import json

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

ACCEPTED_FORMATS = (
    "a base58 32-byte seed, a base58 64-byte secret key (seed then public key), "
    "or a Solana CLI JSON array of 64 bytes"
)
SEED_BYTES = 32
SECRET_KEY_BYTES = 64
# Longer than any accepted form (a JSON array of 64 bytes with spaces is under 400 characters):
# reading megabytes of JSON is not worth it for a key.
MAX_TEXT_LENGTH = 1000


class KeyFormatError(ValueError):
    """The text is not a private key in an accepted format. The message never holds the key."""

    def __init__(self, problem: str):
        super().__init__(f"{problem}; expected {ACCEPTED_FORMATS}")


def keypair_from_text(text: str) -> Keypair:
    """The keypair a private key in one of the ACCEPTED_FORMATS stands for."""
    text = text.strip()
    if not text:
        raise KeyFormatError("empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise KeyFormatError("too long")
    if text.startswith("["):
        return _from_secret_key(_json_bytes(text))
    raw = _base58_bytes(text)
    if len(raw) == SEED_BYTES:
        return Keypair.from_seed(raw)
    return _from_secret_key(raw)


def _json_bytes(text: str) -> bytes:
    try:
        values = json.loads(text)
    except ValueError:
        raise KeyFormatError("not a valid JSON array") from None
    if not isinstance(values, list) or len(values) != SECRET_KEY_BYTES:
        raise KeyFormatError(f"a JSON key must be an array of exactly {SECRET_KEY_BYTES} numbers")
    if not all(type(v) is int and 0 <= v <= 255 for v in values):  # bool is not a byte
        raise KeyFormatError("a JSON key's numbers must be integers from 0 to 255")
    return bytes(values)


def _base58_bytes(text: str) -> bytes:
    # solders decodes base58 through its fixed-size types only: a Pubkey is any 32 bytes and a
    # Signature any 64, so each is a plain base58 decoder of that length.
    for decode in (Pubkey.from_string, Signature.from_string):
        try:
            return bytes(decode(text))
        except ValueError:
            continue
    raise KeyFormatError(f"not base58 text of {SEED_BYTES} or {SECRET_KEY_BYTES} bytes")


def _from_secret_key(raw: bytes) -> Keypair:
    """A 64-byte secret key is the seed followed by its public key: a public half that does
    not belong to the seed is a damaged or forged key, refused rather than half-trusted."""
    keypair = Keypair.from_seed(raw[:SEED_BYTES])
    if bytes(keypair.pubkey()) != raw[SEED_BYTES:]:
        raise KeyFormatError("the public half of the 64-byte secret key does not match its seed")
    return keypair
