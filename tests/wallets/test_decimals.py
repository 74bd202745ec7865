"""Token decimals from the mint account: real mint accounts' bytes, built with solders, through
the code that reads getAccountInfo's answer, and the whole round trip over HTTP to localnet's
SVM-backed Solana RPC."""

import base64

import pytest
from solders.pubkey import Pubkey
from solders.token.state import Mint

from nexgent.http import ExternalServiceError
from prices.services import token_decimals_remember
from wallets import rpc
from wallets.services import token_decimals_onchain

MINT = str(Pubkey.new_unique())


def _mint_bytes(decimals: int) -> bytes:
    return bytes(
        Mint(
            mint_authority=Pubkey.new_unique(),
            supply=10**15,
            decimals=decimals,
            is_initialized=True,
            freeze_authority=None,
        )
    )


def _result(data: bytes, owner=rpc.TOKEN_PROGRAM) -> dict:
    """getAccountInfo's `result` as the RPC sends it with encoding base64."""
    return {
        "context": {"slot": 1},
        "value": {
            "data": [base64.b64encode(data).decode(), "base64"],
            "executable": False,
            "lamports": 1461600,
            "owner": str(owner),
            "rentEpoch": 0,
            "space": len(data),
        },
    }


@pytest.mark.parametrize("decimals", [0, 6, 9])
def test_decimals_are_read_from_a_mint_account(decimals):
    account = rpc.account_from_result(_result(_mint_bytes(decimals)))
    assert account.data[44] == decimals  # the layout's decimals byte, as solders wrote it
    assert rpc.mint_decimals(MINT, account) == decimals


def test_a_token_2022_mint_with_extensions_is_read_too():
    data = _mint_bytes(5) + bytes(83) + b"\x01\x00"  # account type and an extension after it
    account = rpc.account_from_result(_result(data, owner=rpc.TOKEN_2022_PROGRAM))
    assert rpc.mint_decimals(MINT, account) == 5


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"context": {"slot": 1}, "value": None}, "no account"),
        (_result(_mint_bytes(6), owner=Pubkey.new_unique()), "not owned by a token program"),
        (_result(bytes(40)), "not a mint account"),
        (_result(bytes(82)), "not an initialized mint"),
    ],
)
def test_what_is_not_a_mint_is_refused_never_guessed(result, problem):
    with pytest.raises(ValueError, match=problem):
        rpc.mint_decimals(MINT, rpc.account_from_result(result))


def test_account_data_in_another_encoding_is_refused():
    result = _result(_mint_bytes(6))
    result["value"]["data"][1] = "base58"
    with pytest.raises(ValueError):
        rpc.account_from_result(result)


@pytest.mark.django_db
def test_stored_decimals_are_used_without_asking_the_chain(settings):
    # An RPC URL nothing listens on: a request would fail.
    settings.SOLANA_RPC_URL = "http://127.0.0.1:9/"
    token_decimals_remember(MINT, 7)
    assert token_decimals_onchain(MINT) == 7


@pytest.mark.django_db
def test_an_unreachable_rpc_is_an_error_not_a_default(settings):
    settings.SOLANA_RPC_URL = "http://127.0.0.1:9/"
    with pytest.raises(ExternalServiceError):
        token_decimals_onchain(str(Pubkey.new_unique()))


@pytest.mark.django_db
def test_decimals_round_trip_to_a_real_mint_on_localnets_chain(localnet, market):
    from decimal import Decimal

    mint = market.add_token(
        symbol="RT", price_sol=Decimal("0.01"), decimals=7, liquidity_sol=Decimal("1000")
    )
    unknown = str(Pubkey.new_unique())

    assert token_decimals_onchain(mint) == 7
    assert market.recorded("solana_rpc"), "decimals were not read from the chain"
    with pytest.raises(ExternalServiceError):
        token_decimals_onchain(unknown)
