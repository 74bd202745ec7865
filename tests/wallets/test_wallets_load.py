"""`manage.py wallets_load`: WALLET_1, WALLET_2, ... from the environment, idempotently."""

import json

import pytest
from django.core.management import CommandError, call_command
from solders.keypair import Keypair

from wallets.models import AgentWallet
from wallets.services import wallet_keypair

pytestmark = pytest.mark.django_db


def test_env_wallets_are_stored_once(monkeypatch, user, capsys):
    first, second = Keypair(), Keypair()
    monkeypatch.setenv("WALLET_1", str(first))
    monkeypatch.setenv("WALLET_2", json.dumps(list(bytes(second))))
    monkeypatch.setenv("WALLET_3", str(first))  # the same key twice is one wallet
    call_command("wallets_load", "--owner", user.email)
    call_command("wallets_load")  # a second start; the only operator is the default owner
    wallets = AgentWallet.objects.filter(mode="live").order_by("pk")
    assert [w.address for w in wallets] == [str(first.pubkey()), str(second.pubkey())]
    assert all(w.owner == user and w.agent is None for w in wallets)
    assert bytes(wallet_keypair(wallets[1])) == bytes(second)
    printed = capsys.readouterr().out
    assert str(first) not in printed and printed.count("already stored") == 4


def test_a_bad_env_key_names_the_variable_not_its_value_and_stores_nothing(monkeypatch, user):
    monkeypatch.setenv("WALLET_1", str(Keypair()))
    monkeypatch.setenv("WALLET_2", "my-secret-typo")
    with pytest.raises(CommandError) as refused:
        call_command("wallets_load", "--owner", user.email)
    assert "WALLET_2" in str(refused.value) and "my-secret-typo" not in str(refused.value)
    assert not AgentWallet.objects.filter(mode="live").exists()


def test_the_owner_must_be_named_when_there_are_several(monkeypatch, user, other_user):
    monkeypatch.setenv("WALLET_1", str(Keypair()))
    with pytest.raises(CommandError):
        call_command("wallets_load")
