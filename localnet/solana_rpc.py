"""Solana JSON-RPC over HTTP (external-apis.md §4), answered from the market's chain
(localnet.svm): the JSON-RPC 2.0 envelope, batches, the methods a trading engine calls, their
context wrapper and their error codes and messages."""

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import base58
from solders.account import Account
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.token.state import Mint, TokenAccount
from solders.transaction import VersionedTransaction

from localnet import spl
from localnet.answers import Request, Response, json_response
from localnet.market import SyntheticMarket
from localnet.svm import (
    Chain,
    Landed,
    PreflightFailure,
    SignatureVerificationFailure,
    TokenAmount,
    TokenBalance,
)

API_VERSION = "3.1.8"
MAX_SIGNATURES = 256
# Real nodes refuse base58 account data above this size.
BASE58_DATA_LIMIT = 128
U64_MAX = 2**64 - 1
TOKEN_PROGRAM = str(spl.TOKEN_PROGRAM_ID)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
PREFLIGHT_FAILURE = -32002
SIGNATURE_VERIFICATION_FAILURE = -32003
UNSUPPORTED_TRANSACTION_VERSION = -32015
MIN_CONTEXT_SLOT_NOT_REACHED = -32016


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def body(self) -> dict:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def handle(market: SyntheticMarket, request: Request) -> Response:
    """POST /: one call or a batch (a JSON array, answered in order)."""
    try:
        payload = json.loads(request.body)
    except ValueError:
        return json_response(_error(None, RpcError(PARSE_ERROR, "Parse error")))
    if isinstance(payload, list):
        if not payload:
            return json_response(_error(None, RpcError(INVALID_REQUEST, "Invalid request")))
        return json_response([_call(market, item) for item in payload])
    return json_response(_call(market, payload))


def request_id(body: bytes) -> Any:
    """The id of a single call, for an answer given before the call is read (a 429)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload.get("id") if isinstance(payload, dict) else None


def _error(call_id: Any, error: RpcError) -> dict:
    return {"jsonrpc": "2.0", "error": error.body(), "id": call_id}


def _call(market: SyntheticMarket, call: Any) -> dict:
    if not isinstance(call, dict):
        return _error(None, RpcError(INVALID_REQUEST, "Invalid request"))
    call_id = call.get("id")
    method, params = call.get("method"), call.get("params", [])
    if call.get("jsonrpc") != "2.0" or not isinstance(method, str):
        return _error(call_id, RpcError(INVALID_REQUEST, "Invalid request"))
    if method not in METHODS:
        return _error(call_id, RpcError(METHOD_NOT_FOUND, "Method not found"))
    if not isinstance(params, list):
        return _error(call_id, RpcError(INVALID_PARAMS, "Invalid params: expected an array"))
    try:
        result = METHODS[method](market.chain, params)
    except RpcError as error:
        return _error(call_id, error)
    return {"jsonrpc": "2.0", "result": result, "id": call_id}


# Parameters


def _param(params: list, index: int, required: bool = True) -> Any:
    if index < len(params):
        return params[index]
    if required:
        raise RpcError(INVALID_PARAMS, "Invalid params: missing a required parameter")
    return None


def _config(params: list, index: int) -> dict:
    config = _param(params, index, required=False) or {}
    if not isinstance(config, dict):
        raise RpcError(INVALID_PARAMS, "Invalid params: the configuration must be an object")
    return config


def _pubkey(value: Any) -> Pubkey:
    try:
        return Pubkey.from_string(str(value))
    except ValueError as exc:
        raise RpcError(INVALID_PARAMS, "Invalid param: Invalid") from exc


def _signature(value: Any) -> Signature:
    try:
        return Signature.from_string(str(value))
    except ValueError as exc:
        raise RpcError(INVALID_PARAMS, "Invalid param: Invalid") from exc


def _commitment(config: dict) -> str:
    commitment = config.get("commitment", "finalized")
    if commitment not in ("processed", "confirmed", "finalized"):
        raise RpcError(INVALID_PARAMS, f"Invalid params: unknown commitment `{commitment}`")
    return commitment


def _transaction(params: list, config: dict) -> VersionedTransaction:
    """The wire transaction in params[0], base58 by default as on real nodes."""
    text, encoding = _param(params, 0), config.get("encoding", "base58")
    try:
        if encoding == "base64":
            raw = base64.b64decode(str(text), validate=True)
        elif encoding == "base58":
            raw = base58.b58decode(str(text))
        else:
            raise RpcError(INVALID_PARAMS, f"Invalid params: unknown encoding `{encoding}`")
    except ValueError as exc:
        raise RpcError(INVALID_PARAMS, f"invalid {encoding} encoding: {exc}") from exc
    try:
        return VersionedTransaction.from_bytes(raw)
    except ValueError as exc:
        raise RpcError(
            INVALID_PARAMS,
            f"failed to deserialize solana_transaction::versioned::VersionedTransaction: {exc}",
        ) from exc


def _with_context(chain: Chain, value: Any) -> dict:
    return {"context": {"apiVersion": API_VERSION, "slot": chain.slot()}, "value": value}


# Numbers as the RPC writes them


def ui_token_amount(amount: TokenAmount) -> dict:
    ui = Decimal(amount.amount).scaleb(-amount.decimals)
    text = format(ui, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return {
        "amount": str(amount.amount),
        "decimals": amount.decimals,
        "uiAmount": float(ui),
        "uiAmountString": text,
    }


def _token_balance(balance: TokenBalance) -> dict:
    return {
        "accountIndex": balance.account_index,
        "mint": balance.mint,
        "owner": balance.owner,
        "programId": TOKEN_PROGRAM,
        "uiTokenAmount": ui_token_amount(balance.amount),
    }


def _account(chain: Chain, account: Account, config: dict) -> dict:
    data = bytes(account.data)
    encoding = config.get("encoding", "base58")
    parsed = _parsed(chain, account) if encoding == "jsonParsed" else None
    if parsed is not None:
        encoded: Any = parsed
    else:
        data_slice = config.get("dataSlice")
        if isinstance(data_slice, dict):
            offset, length = int(data_slice.get("offset", 0)), int(data_slice.get("length", 0))
            data = data[offset : offset + length]
        if encoding == "base58":
            if len(data) > BASE58_DATA_LIMIT:
                raise RpcError(
                    INVALID_REQUEST,
                    "Encoded binary (base 58) data should be less than 128 bytes, "
                    "please use Base64 encoding.",
                )
            encoded = [base58.b58encode(data).decode(), "base58"]
        elif encoding in ("base64", "jsonParsed"):
            encoded = [base64.b64encode(data).decode(), "base64"]
        else:
            raise RpcError(INVALID_PARAMS, f"Invalid params: unknown encoding `{encoding}`")
    return {
        "data": encoded,
        "executable": account.executable,
        "lamports": account.lamports,
        "owner": str(account.owner),
        "rentEpoch": U64_MAX,
        "space": len(bytes(account.data)),
    }


def _parsed(chain: Chain, account: Account) -> dict | None:
    """jsonParsed for SPL mints and token accounts; anything else falls back to base64."""
    if str(account.owner) != TOKEN_PROGRAM:
        return None
    data = bytes(account.data)
    if len(data) == spl.MINT_LEN:
        mint = Mint.from_bytes(data)
        info = {
            "decimals": mint.decimals,
            "freezeAuthority": _optional(mint.freeze_authority),
            "isInitialized": mint.is_initialized,
            "mintAuthority": _optional(mint.mint_authority),
            "supply": str(mint.supply),
        }
        kind = "mint"
    elif len(data) == spl.TOKEN_ACCOUNT_LEN:
        token = TokenAccount.from_bytes(data)
        decimals = chain.mint_decimals(token.mint) or 0
        info = {
            "isNative": token.is_native is not None,
            "mint": str(token.mint),
            "owner": str(token.owner),
            "state": "frozen" if str(token.state).endswith("Frozen") else "initialized",
            "tokenAmount": ui_token_amount(TokenAmount(token.amount, decimals)),
        }
        kind = "account"
    else:
        return None
    return {"program": "spl-token", "parsed": {"info": info, "type": kind}, "space": len(data)}


def _optional(key: Pubkey | None) -> str | None:
    return None if key is None else str(key)


# Methods


def get_latest_blockhash(chain: Chain, params: list) -> dict:
    _commitment(_config(params, 0))
    blockhash, last_valid = chain.latest_blockhash()
    return _with_context(chain, {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid})


def get_block_height(chain: Chain, params: list) -> int:
    _commitment(_config(params, 0))
    return chain.block_height()


def get_slot(chain: Chain, params: list) -> int:
    _commitment(_config(params, 0))
    return chain.slot()


def get_health(chain: Chain, params: list) -> str:
    return "ok"


def send_transaction(chain: Chain, params: list) -> str:
    config = _config(params, 1)
    transaction = _transaction(params, config)
    min_context_slot = config.get("minContextSlot")
    if min_context_slot is not None and chain.slot() < int(min_context_slot):
        raise RpcError(
            MIN_CONTEXT_SLOT_NOT_REACHED,
            "Minimum context slot has not been reached",
            {"contextSlot": chain.slot()},
        )
    try:
        signature = chain.send(transaction, preflight=not config.get("skipPreflight", False))
    except SignatureVerificationFailure as exc:
        raise RpcError(
            SIGNATURE_VERIFICATION_FAILURE, "Transaction signature verification failure"
        ) from exc
    except PreflightFailure as failure:
        raise RpcError(
            PREFLIGHT_FAILURE,
            str(failure),
            {
                "accounts": None,
                "err": failure.err,
                "innerInstructions": None,
                "logs": failure.logs,
                "replacementBlockhash": None,
                "returnData": None,
                "unitsConsumed": failure.units,
            },
        ) from failure
    return str(signature)


def simulate_transaction(chain: Chain, params: list) -> dict:
    config = _config(params, 1)
    transaction = _transaction(params, config)
    sig_verify = bool(config.get("sigVerify", False))
    replace = bool(config.get("replaceRecentBlockhash", False))
    if sig_verify and replace:
        raise RpcError(
            INVALID_PARAMS,
            "sigVerify may not be used with replaceRecentBlockhash",
        )
    outcome = chain.simulate(transaction, sig_verify=sig_verify, replace_blockhash=replace)
    replacement = None
    if outcome.replacement is not None:
        blockhash, last_valid = outcome.replacement
        replacement = {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid}
    tokens = [
        None if balances is None else [_token_balance(balance) for balance in balances]
        for balances in (outcome.pre_token_balances, outcome.post_token_balances)
    ]
    return _with_context(
        chain,
        {
            "err": outcome.err,
            "logs": outcome.logs,
            "accounts": None,
            "unitsConsumed": outcome.units,
            "returnData": None,
            "innerInstructions": None,
            "replacementBlockhash": replacement,
            "fee": outcome.fee,
            "preBalances": outcome.pre_balances,
            "postBalances": outcome.post_balances,
            "preTokenBalances": tokens[0],
            "postTokenBalances": tokens[1],
            "loadedAddresses": {"writable": [], "readonly": []},
        },
    )


def get_signature_statuses(chain: Chain, params: list) -> dict:
    signatures = _param(params, 0)
    if not isinstance(signatures, list):
        raise RpcError(INVALID_PARAMS, "Invalid params: expected an array of signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise RpcError(INVALID_PARAMS, f"Too many inputs provided; max {MAX_SIGNATURES}")
    parsed = [_signature(signature) for signature in signatures]
    return _with_context(chain, [chain.status(signature) for signature in parsed])


def get_balance(chain: Chain, params: list) -> dict:
    address = _pubkey(_param(params, 0))
    _commitment(_config(params, 1))
    return _with_context(chain, chain.balance(address))


def get_account_info(chain: Chain, params: list) -> dict:
    address, config = _pubkey(_param(params, 0)), _config(params, 1)
    account = chain.account(address)
    return _with_context(chain, None if account is None else _account(chain, account, config))


def get_token_accounts_by_owner(chain: Chain, params: list) -> dict:
    owner, config = _pubkey(_param(params, 0)), _config(params, 2)
    token_filter = _param(params, 1)
    if not isinstance(token_filter, dict) or len(token_filter) != 1:
        raise RpcError(INVALID_PARAMS, "Invalid params: expected exactly one of mint or programId")
    mint = None
    if "mint" in token_filter:
        mint = _pubkey(token_filter["mint"])
        if chain.mint_decimals(mint) is None:
            raise RpcError(INVALID_PARAMS, "Invalid param: could not find mint")
    elif "programId" in token_filter:
        program = _pubkey(token_filter["programId"])
        if program not in (spl.TOKEN_PROGRAM_ID, spl.TOKEN_2022_PROGRAM_ID):
            raise RpcError(INVALID_PARAMS, "Invalid param: unrecognized Token program id")
        if program == spl.TOKEN_2022_PROGRAM_ID:
            # localnet lists every token under the original Token program.
            return _with_context(chain, [])
    else:
        raise RpcError(INVALID_PARAMS, "Invalid params: expected exactly one of mint or programId")
    accounts = chain.token_accounts(owner, mint=mint)
    return _with_context(
        chain,
        [
            {"pubkey": str(address), "account": _account(chain, account, config)}
            for address, account, _ in accounts
        ],
    )


def get_token_account_balance(chain: Chain, params: list) -> dict:
    address = _pubkey(_param(params, 0))
    _commitment(_config(params, 1))
    if chain.account(address) is None:
        raise RpcError(INVALID_PARAMS, "Invalid param: could not find account")
    amount = chain.token_amount(address)
    if amount is None:
        raise RpcError(INVALID_PARAMS, "Invalid param: not a Token account")
    return _with_context(chain, ui_token_amount(amount))


def get_transaction(chain: Chain, params: list) -> dict | None:
    signature, config = _signature(_param(params, 0)), _config(params, 1)
    commitment = _commitment(config)
    if commitment == "processed":
        raise RpcError(INVALID_PARAMS, "Method does not support commitment below `confirmed`")
    landed = chain.transaction(signature, commitment=commitment)
    if landed is None:
        return None
    supported = config.get("maxSupportedTransactionVersion")
    # solders gives 0 for a v0 transaction and the Legacy marker otherwise.
    if landed.transaction.version() == 0 and supported is None:
        raise RpcError(
            UNSUPPORTED_TRANSACTION_VERSION,
            "Transaction version (0) is not supported by the requesting client. Please "
            "try the request again with the following configuration parameter: "
            '"maxSupportedTransactionVersion": 0',
        )
    return _landed(landed, config.get("encoding", "json"), supported is not None)


def _landed(landed: Landed, encoding: str, versioned: bool) -> dict:
    transaction = landed.transaction
    if encoding == "base64":
        encoded: Any = [base64.b64encode(bytes(transaction)).decode(), "base64"]
    elif encoding == "base58":
        encoded = [base58.b58encode(bytes(transaction)).decode(), "base58"]
    elif encoding in ("json", "jsonParsed"):
        encoded = _transaction_json(transaction)
    else:
        raise RpcError(INVALID_PARAMS, f"Invalid params: unknown encoding `{encoding}`")
    answer = {
        "slot": landed.slot,
        "blockTime": landed.block_time,
        "transaction": encoded,
        "meta": {
            "err": landed.err,
            "status": {"Ok": None} if landed.err is None else {"Err": landed.err},
            "fee": landed.fee,
            "preBalances": landed.pre_balances,
            "postBalances": landed.post_balances,
            "innerInstructions": [],
            "logMessages": landed.logs,
            "preTokenBalances": [_token_balance(b) for b in landed.pre_token_balances],
            "postTokenBalances": [_token_balance(b) for b in landed.post_token_balances],
            "rewards": [],
            "loadedAddresses": {"writable": [], "readonly": []},
            "computeUnitsConsumed": landed.units,
        },
    }
    if versioned:
        answer["version"] = 0
    return answer


def _transaction_json(transaction: VersionedTransaction) -> dict:
    message = transaction.message
    header = message.header
    return {
        "signatures": [str(signature) for signature in transaction.signatures],
        "message": {
            "header": {
                "numRequiredSignatures": header.num_required_signatures,
                "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
            },
            "accountKeys": [str(key) for key in message.account_keys],
            "recentBlockhash": str(message.recent_blockhash),
            "instructions": [
                {
                    "programIdIndex": instruction.program_id_index,
                    "accounts": list(instruction.accounts),
                    "data": base58.b58encode(bytes(instruction.data)).decode(),
                    "stackHeight": None,
                }
                for instruction in message.instructions
            ],
            "addressTableLookups": [],
        },
    }


def request_airdrop(chain: Chain, params: list) -> str:
    """What the test validator and devnet offer: SOL from nowhere, for tests and demos."""
    address, lamports = _pubkey(_param(params, 0)), _param(params, 1)
    if not isinstance(lamports, int) or isinstance(lamports, bool) or lamports <= 0:
        raise RpcError(INVALID_PARAMS, "Invalid params: lamports must be a positive integer")
    return str(chain.fund(address, lamports))


METHODS: dict[str, Callable[[Chain, list], Any]] = {
    "getLatestBlockhash": get_latest_blockhash,
    "getBlockHeight": get_block_height,
    "getSlot": get_slot,
    "getHealth": get_health,
    "sendTransaction": send_transaction,
    "simulateTransaction": simulate_transaction,
    "getSignatureStatuses": get_signature_statuses,
    "getBalance": get_balance,
    "getAccountInfo": get_account_info,
    "getTokenAccountsByOwner": get_token_accounts_by_owner,
    "getTokenAccountBalance": get_token_account_balance,
    "getTransaction": get_transaction,
    "requestAirdrop": request_airdrop,
}
