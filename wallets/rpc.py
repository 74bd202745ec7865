"""The Solana JSON-RPC client (shared/design/external-apis.md, Solana RPC).

Every call goes through prices.providers like every other external request: the timeout,
bounded retries on 429 and 5xx honouring Retry-After, metrics and the provider's status. A
JSON-RPC error (HTTP 200 with an `error` member) or an answer we cannot read raises
ExternalServiceError: nothing here falls back to a guess.
"""

import base64
import binascii
import itertools
from dataclasses import dataclass

import requests
from django.conf import settings
from solders.pubkey import Pubkey
from solders.token import ID as TOKEN_PROGRAM
from solders.token.state import Mint

from nexgent.http import ExternalServiceError, decode_json
from prices import providers

SOLANA_RPC = providers.Provider("solana_rpc", 10)
TOKEN_2022_PROGRAM = Pubkey.from_string("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb")
# Token-2022 mints start with the same 82-byte layout as SPL Token's and append extensions.
MINT_BASE_LENGTH = 82

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class AccountInfo:
    owner: Pubkey
    data: bytes
    lamports: int


def call(method: str, params: list, *, read):
    """The `result` of one JSON-RPC call, through read(result)."""

    def parse(response: requests.Response):
        body = decode_json(SOLANA_RPC.name, response)
        if not isinstance(body, dict):
            raise ExternalServiceError(SOLANA_RPC.name, f"{method}: expected a JSON-RPC object")
        if "error" in body:
            error = body["error"] if isinstance(body["error"], dict) else {}
            raise ExternalServiceError(
                SOLANA_RPC.name,
                f"{method}: {error.get('code')} {error.get('message')}",
                status=response.status_code,
                body=body["error"],
            )
        if "result" not in body:
            raise ExternalServiceError(SOLANA_RPC.name, f"{method}: no result")
        return read(body["result"])

    return providers.post(
        SOLANA_RPC,
        settings.SOLANA_RPC_URL,
        json={"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params},
        parse=parse,
    )


def account_info(address: str) -> AccountInfo | None:
    """The account at `address`, or None when it does not exist."""
    return call(
        "getAccountInfo",
        [address, {"encoding": "base64", "commitment": "confirmed"}],
        read=account_from_result,
    )


def account_from_result(result) -> AccountInfo | None:
    """getAccountInfo's `result` ({"context", "value"}) read into an AccountInfo."""
    value = result["value"]
    if value is None:
        return None
    encoded, encoding = value["data"]
    if encoding != "base64":
        raise ValueError(f"account data in {encoding}, asked for base64")
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("account data is not valid base64") from None
    return AccountInfo(
        owner=Pubkey.from_string(value["owner"]), data=data, lamports=int(value["lamports"])
    )


def mint_decimals(mint: str, account: AccountInfo | None) -> int:
    """The decimals of an SPL Token (or Token-2022) mint account. Raises ValueError when the
    account is missing or is not an initialized mint."""
    if account is None:
        raise ValueError(f"no account at {mint}")
    if account.owner not in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM):
        raise ValueError(f"{mint} is not owned by a token program")
    if len(account.data) < MINT_BASE_LENGTH:
        raise ValueError(f"{mint} is not a mint account")
    try:
        state = Mint.from_bytes(account.data[:MINT_BASE_LENGTH])
    except ValueError:
        raise ValueError(f"{mint} is not an initialized mint") from None
    return state.decimals


def token_decimals_fetch(mint: str) -> int:
    """The mint's decimals read from the chain. ExternalServiceError when the RPC fails or the
    address is not a mint."""
    try:
        return mint_decimals(mint, account_info(mint))
    except ValueError as exc:
        raise ExternalServiceError(SOLANA_RPC.name, str(exc)) from None
