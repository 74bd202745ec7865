"""The database holds the wallet rules whatever writes the rows."""

import pytest
from django.db import IntegrityError, transaction

from wallets.models import AgentWallet

pytestmark = pytest.mark.django_db
SEALED = {"encrypted_secret": b"c", "secret_salt": b"s", "secret_nonce": b"n"}


def _refused(**fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        AgentWallet.objects.create(**fields)


def test_a_second_live_wallet_for_an_agent_is_refused_by_the_database(agent, user):
    AgentWallet.objects.create(owner=user, agent=agent, mode="live", address="live-1", **SEALED)
    _refused(owner=user, agent=agent, mode="live", address="live-2", **SEALED)


def test_many_unassigned_live_wallets_may_exist(user):
    for n in range(3):
        AgentWallet.objects.create(owner=user, mode="live", address=f"spare-{n}", **SEALED)


def test_a_simulation_wallet_needs_its_agent(user):
    _refused(owner=user, mode="simulation", address="sim-orphan")


def test_a_live_wallet_needs_its_sealed_key(user):
    _refused(owner=user, mode="live", address="live-no-key")
    _refused(
        owner=user, mode="live", address="live-no-salt", encrypted_secret=b"c", secret_nonce=b"n"
    )
