"""The keystore: AES-256-GCM under a scrypt-derived key, the master key's sources, the
embedded default's key file."""

import logging
import os
import stat

import pytest
from solders.keypair import Keypair

from wallets import keystore

ADDRESS = str(Keypair().pubkey())
OTHER_MASTER_KEY = "another-master-key-" + "z" * 32


def test_a_sealed_key_opens_to_the_same_bytes():
    secret = os.urandom(32)
    sealed = keystore.seal(secret, address=ADDRESS)
    assert secret not in sealed.ciphertext
    assert len(sealed.salt) == 16 and len(sealed.nonce) == 12
    assert keystore.unseal(sealed, address=ADDRESS) == secret


def test_every_seal_has_its_own_salt_and_nonce():
    first, second = (keystore.seal(b"k" * 32, address=ADDRESS) for _ in range(2))
    assert first.salt != second.salt and first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


def test_a_wrong_master_key_fails_clearly_and_yields_no_key(settings):
    sealed = keystore.seal(os.urandom(32), address=ADDRESS)
    settings.WALLET_MASTER_KEY = OTHER_MASTER_KEY
    with pytest.raises(keystore.KeystoreError) as refused:
        keystore.unseal(sealed, address=ADDRESS)
    assert refused.value.code == "wrong_master_key"
    assert "WALLET_MASTER_KEY" in refused.value.message
    assert OTHER_MASTER_KEY not in refused.value.message


def test_a_key_opened_before_still_refuses_another_master_key(settings):
    # Opening a key keeps its derived unsealing key (every live swap signs): only for the
    # master key that derived it.
    sealed = keystore.seal(os.urandom(32), address=ADDRESS)
    opened = keystore.unseal(sealed, address=ADDRESS)
    assert keystore.unseal(sealed, address=ADDRESS) == opened
    settings.WALLET_MASTER_KEY = OTHER_MASTER_KEY
    with pytest.raises(keystore.KeystoreError) as refused:
        keystore.unseal(sealed, address=ADDRESS)
    assert refused.value.code == "wrong_master_key"


def test_a_ciphertext_moved_to_another_wallet_does_not_open():
    sealed = keystore.seal(os.urandom(32), address=ADDRESS)
    with pytest.raises(keystore.KeystoreError):
        keystore.unseal(sealed, address=str(Keypair().pubkey()))


def test_a_short_master_key_is_refused(settings):
    settings.WALLET_MASTER_KEY = "short"
    with pytest.raises(keystore.KeystoreError) as refused:
        keystore.seal(b"k" * 32, address=ADDRESS)
    assert refused.value.code == "master_key_too_short"


def test_the_master_key_can_come_from_a_file(settings, tmp_path):
    key_file = tmp_path / "master"
    key_file.write_text(OTHER_MASTER_KEY + "\n")
    settings.WALLET_MASTER_KEY, settings.WALLET_MASTER_KEY_FILE = None, str(key_file)
    sealed = keystore.seal(b"k" * 32, address=ADDRESS)
    assert keystore.unseal(sealed, address=ADDRESS) == b"k" * 32
    # The file's key is the one used: the same text given directly opens it too.
    settings.WALLET_MASTER_KEY, settings.WALLET_MASTER_KEY_FILE = OTHER_MASTER_KEY, None
    assert keystore.unseal(sealed, address=ADDRESS) == b"k" * 32


def test_a_named_key_file_that_is_missing_is_an_error_not_a_new_key(settings, tmp_path):
    settings.WALLET_MASTER_KEY, settings.WALLET_MASTER_KEY_FILE = None, str(tmp_path / "nope")
    with pytest.raises(keystore.KeystoreError) as refused:
        keystore.seal(b"k" * 32, address=ADDRESS)
    assert refused.value.code == "master_key_missing"
    assert not (tmp_path / "nope").exists()


def test_the_embedded_default_creates_a_0600_key_file_once_and_says_so(settings, tmp_path, caplog):
    settings.WALLET_MASTER_KEY, settings.DATABASE_URL, settings.VAR_DIR = None, None, tmp_path
    with caplog.at_level(logging.INFO, logger="wallets"):
        sealed = keystore.seal(b"k" * 32, address=ADDRESS)
        keystore.seal(b"k" * 32, address=ADDRESS)
    key_file = tmp_path / keystore.DEFAULT_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    master = key_file.read_text().strip()
    assert len(master) >= keystore.MASTER_KEY_MIN_LENGTH
    said = [r.getMessage() for r in caplog.records if "master key file" in r.getMessage()]
    assert len(said) == 1 and str(key_file) in said[0]
    assert master not in caplog.text
    assert [p.name for p in tmp_path.iterdir()] == [keystore.DEFAULT_KEY_FILE]
    assert keystore.unseal(sealed, address=ADDRESS) == b"k" * 32


def test_production_without_a_master_key_refuses_rather_than_invents_one(settings, tmp_path):
    settings.WALLET_MASTER_KEY, settings.VAR_DIR = None, tmp_path
    settings.DATABASE_URL = "postgres://db/nexgent"
    with pytest.raises(keystore.KeystoreError) as refused:
        keystore.seal(b"k" * 32, address=ADDRESS)
    assert refused.value.code == "master_key_missing"
    assert list(tmp_path.iterdir()) == []
