"""Reading an imported private key: every accepted format, every kind of bad input, and no
error that repeats the key."""

import json

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from wallets.keys import ACCEPTED_FORMATS, KeyFormatError, keypair_from_text

KEYPAIR = Keypair()
SEED = bytes(KEYPAIR)[:32]


def base58(raw: bytes) -> str:
    # solders writes base58 through its fixed-size types (32 bytes: Pubkey, 64: Signature).
    return str(Pubkey(raw)) if len(raw) == 32 else str(Signature(raw))


FORMATS = {
    "base58 seed": base58(SEED),
    "base58 secret key": str(KEYPAIR),
    "solana cli json": json.dumps(list(bytes(KEYPAIR))),
    "json without spaces, pasted with a newline": json.dumps(list(bytes(KEYPAIR))).replace(" ", "")
    + "\n",
}


@pytest.mark.parametrize("text", FORMATS.values(), ids=FORMATS.keys())
def test_every_accepted_format_reads_the_same_keypair(text):
    assert keypair_from_text(text).pubkey() == KEYPAIR.pubkey()


MISMATCHED = SEED + bytes(Keypair().pubkey())
BAD = {
    "empty": "   ",
    "not base58": "0OIl" * 11,
    "base58 of 33 bytes": base58(SEED)[:-1] + "1" * 2,
    "base58 of the wrong public half": base58(MISMATCHED),
    "json of the wrong public half": json.dumps(list(MISMATCHED)),
    "json of 32 bytes": json.dumps(list(SEED)),
    "json with a byte over 255": json.dumps([256, *list(bytes(KEYPAIR))[1:]]),
    "json with booleans": json.dumps([True, *list(bytes(KEYPAIR))[1:]]),
    "json with fractions": json.dumps([1.5, *list(bytes(KEYPAIR))[1:]]),
    "json object": json.dumps({"key": list(bytes(KEYPAIR))}),
    "broken json": "[1, 2,",
    "too long": "1" * 5000,
    "unicode": "é" * 44,
}


@pytest.mark.parametrize("text", BAD.values(), ids=BAD.keys())
def test_a_bad_key_is_refused_with_the_formats_and_without_the_input(text):
    with pytest.raises(KeyFormatError) as refused:
        keypair_from_text(text)
    message = str(refused.value)
    assert ACCEPTED_FORMATS in message
    assert not text.strip() or text.strip() not in message
    assert base58(SEED) not in message and str(KEYPAIR) not in message
