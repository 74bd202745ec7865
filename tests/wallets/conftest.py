import pytest
from solders.keypair import Keypair


@pytest.fixture
def operator(api_client, user):
    api_client.force_authenticate(user)
    return api_client


@pytest.fixture
def keypair():
    return Keypair()


@pytest.fixture
def live_wallet(user, keypair):
    from wallets.services import wallet_import

    return wallet_import(owner=user, secret=str(keypair))
