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

from nexgent import money
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


# --- A wallet's balances, for reconcile -----------------------------------------------------------

_TOKEN_PROGRAMS = (str(TOKEN_PROGRAM), str(TOKEN_2022_PROGRAM))


@dataclass(frozen=True, slots=True)
class TokenHolding:
    """What the wallet holds of one mint on chain, summed over its token accounts: a raw u64
    amount and the mint's decimals, as the RPC gives them."""

    mint: str
    raw: int
    decimals: int


@dataclass(frozen=True, slots=True)
class ChainBalances:
    """A wallet's balances as the chain showed them. `slot`: the oldest context slot of the
    reads, so an observation is never taken for newer than it is. `lamports`: native SOL plus
    any wrapped SOL left in token accounts (wSOL is the wallet's SOL too, and the ledger keeps
    SOL under the wSOL mint)."""

    slot: int
    lamports: int
    tokens: tuple[TokenHolding, ...]


def wallet_balances(address: str) -> ChainBalances:
    """The wallet's SOL (getBalance) and its SPL Token and Token-2022 holdings
    (getTokenAccountsByOwner, jsonParsed). ExternalServiceError when any read fails or cannot
    be read: a partial picture would pass for drift."""
    slot, lamports = call("getBalance", [address, {"commitment": "confirmed"}], read=_read_balance)
    totals: dict[str, list[int]] = {}
    for program in _TOKEN_PROGRAMS:
        accounts_slot, accounts = call(
            "getTokenAccountsByOwner",
            [
                address,
                {"programId": program},
                {"encoding": "jsonParsed", "commitment": "confirmed"},
            ],
            read=_read_token_accounts,
        )
        slot = min(slot, accounts_slot)
        for mint, raw, decimals in accounts:
            if mint == money.WSOL_MINT:
                lamports += raw
                continue
            held = totals.setdefault(mint, [0, decimals])
            if held[1] != decimals:
                raise ExternalServiceError(SOLANA_RPC.name, f"{mint}: two different decimals")
            held[0] += raw
    tokens = tuple(TokenHolding(mint, raw, decimals) for mint, (raw, decimals) in totals.items())
    return ChainBalances(slot=slot, lamports=lamports, tokens=tokens)


def _read_balance(result) -> tuple[int, int]:
    try:
        slot, lamports = int(result["context"]["slot"]), result["value"]
    except (KeyError, TypeError, ValueError):
        raise ExternalServiceError(SOLANA_RPC.name, "getBalance: unreadable answer") from None
    if not isinstance(lamports, int) or lamports < 0:
        raise ExternalServiceError(SOLANA_RPC.name, f"getBalance: not lamports: {lamports!r}")
    return slot, lamports


def _read_token_accounts(result) -> tuple[int, list[tuple[str, int, int]]]:
    """(context slot, [(mint, raw amount, decimals)]) from a jsonParsed answer."""
    try:
        slot = int(result["context"]["slot"])
        accounts = []
        for entry in result["value"]:
            info = entry["account"]["data"]["parsed"]["info"]
            amount = info["tokenAmount"]
            accounts.append((str(info["mint"]), int(amount["amount"]), int(amount["decimals"])))
    except (KeyError, TypeError, ValueError):
        raise ExternalServiceError(
            SOLANA_RPC.name, "getTokenAccountsByOwner: unreadable jsonParsed answer"
        ) from None
    return slot, accounts
