"""A Solana client as the engine will write one: plain requests for JSON-RPC and Jupiter,
solders for transactions and signatures."""

import base64
import itertools

import requests
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction

from tests.localnet.support import WSOL


class RpcFailure(Exception):
    def __init__(self, error: dict):
        super().__init__(error["message"])
        self.code, self.message, self.data = error["code"], error["message"], error.get("data")


class Rpc:
    def __init__(self, url: str):
        self.url = url
        self._ids = itertools.count(1)

    def raw(self, method: str, *params) -> requests.Response:
        call = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        return requests.post(self.url, json=call, timeout=10)

    def __call__(self, method: str, *params):
        response = self.raw(method, *params)
        assert response.status_code == 200, response.text
        body = response.json()
        if "error" in body:
            raise RpcFailure(body["error"])
        return body["result"]

    def value(self, method: str, *params):
        """The `value` of a context-wrapped answer."""
        return self(method, *params)["value"]


def signed(transaction_base64: str, keypair: Keypair) -> VersionedTransaction:
    """Fill the first signature slot (the fee payer's), keeping the others (the pool's)."""
    raw = VersionedTransaction.from_bytes(base64.b64decode(transaction_base64))
    signature = keypair.sign_message(to_bytes_versioned(raw.message))
    return VersionedTransaction.populate(raw.message, [signature, *raw.signatures[1:]])


def wire(transaction: VersionedTransaction) -> str:
    return base64.b64encode(bytes(transaction)).decode()


def send(rpc: Rpc, transaction: VersionedTransaction, **config) -> str:
    return rpc("sendTransaction", wire(transaction), {"encoding": "base64", **config})


def quote(localnet_url: str, input_mint: str, output_mint: str, amount: int, **params) -> dict:
    response = requests.get(
        f"{localnet_url}/swap/v1/quote",
        params={"inputMint": input_mint, "outputMint": output_mint, "amount": amount, **params},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def swap(localnet_url: str, quote_response: dict, user: Keypair, **options) -> dict:
    response = requests.post(
        f"{localnet_url}/swap/v1/swap",
        json={"userPublicKey": str(user.pubkey()), "quoteResponse": quote_response, **options},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


def buy_quote(localnet_url: str, token: str, lamports: int, **params) -> dict:
    return quote(localnet_url, WSOL, token, lamports, **params)


def transaction_of(rpc: Rpc, signature: str, commitment: str = "confirmed") -> dict | None:
    return rpc(
        "getTransaction",
        signature,
        {"commitment": commitment, "maxSupportedTransactionVersion": 0, "encoding": "json"},
    )


def token_balance(meta_balances: list[dict], owner: str) -> int | None:
    """An owner's raw token amount among getTransaction's pre/postTokenBalances."""
    amounts = [int(b["uiTokenAmount"]["amount"]) for b in meta_balances if b["owner"] == owner]
    return amounts[0] if amounts else None
