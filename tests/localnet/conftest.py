"""Fixtures for localnet's own tests. The suite-wide `market` and `localnet` fixtures (tests/
conftest.py) provide the market and a started server; nothing here touches the database."""

import pytest
import requests

from tests.localnet.support import DECIMALS, LIQUIDITY_SOL, PRICE_SOL, TRADER_LAMPORTS


@pytest.fixture
def token(market) -> str:
    return market.add_token(
        symbol="TEST",
        name="Test Token",
        price_sol=PRICE_SOL,
        decimals=DECIMALS,
        liquidity_sol=LIQUIDITY_SOL,
    )


@pytest.fixture
def get(localnet):
    """GET a localnet path; params may be a dict or a list of pairs (for repeated keys)."""

    def _get(path: str, params=None) -> requests.Response:
        return requests.get(f"{localnet.url}{path}", params=params, timeout=5)

    return _get


@pytest.fixture
def post(localnet):
    def _post(path: str, payload) -> requests.Response:
        return requests.post(f"{localnet.url}{path}", json=payload, timeout=5)

    return _post


@pytest.fixture
def chain(market):
    """The market's chain with its clock stopped: slots pass only when a test advances them."""
    market.set_slot_time(None)
    return market.chain


@pytest.fixture
def rpc(localnet):
    from tests.localnet.solana import Rpc

    return Rpc(localnet.url)


@pytest.fixture
def trader(chain):
    """A wallet holding 10 SOL."""
    from solders.keypair import Keypair

    keypair = Keypair()
    chain.fund(keypair.pubkey(), TRADER_LAMPORTS)
    return keypair
