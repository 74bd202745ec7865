"""localnet's Solana JSON-RPC contract (external-apis.md §4): the envelope and its errors, the
read methods, simulation, and the control routes that drive the chain."""

import base64

import base58
import pytest
import requests
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token.associated import get_associated_token_address

from tests.localnet.solana import RpcFailure, buy_quote, send, signed, swap, wire
from tests.localnet.support import BLOCKHASH_VALIDITY, DECIMALS, TRADER_LAMPORTS

TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
DECIMALS_OFFSET = 44  # in the 82-byte SPL Mint layout


def test_answers_carry_the_json_rpc_envelope_and_context(rpc, chain):
    response = rpc.raw("getLatestBlockhash", {"commitment": "confirmed"})

    body = response.json()
    assert (body["jsonrpc"], body["id"]) == ("2.0", 1)
    context, value = body["result"]["context"], body["result"]["value"]
    assert context["slot"] == rpc("getSlot")
    assert isinstance(context["apiVersion"], str)
    assert value["lastValidBlockHeight"] == rpc("getBlockHeight") + BLOCKHASH_VALIDITY
    assert len(base58.b58decode(value["blockhash"])) == 32


def test_block_height_trails_the_slot_and_both_move_with_the_clock(rpc, chain):
    slot, height = rpc("getSlot"), rpc("getBlockHeight")
    assert height < slot
    chain.advance(7)
    assert (rpc("getSlot"), rpc("getBlockHeight")) == (slot + 7, height + 7)


def test_a_new_slot_brings_a_new_blockhash(rpc, chain):
    first = rpc.value("getLatestBlockhash")["blockhash"]
    assert rpc.value("getLatestBlockhash")["blockhash"] == first
    chain.advance(1)
    assert rpc.value("getLatestBlockhash")["blockhash"] != first


def test_protocol_errors_have_their_codes(localnet, rpc, chain):
    not_json = requests.post(localnet.url, data=b"{nope", timeout=5).json()
    unknown = rpc.raw("getEverything").json()
    bad_key = rpc.raw("getBalance", "not-a-key").json()

    assert (not_json["error"]["code"], not_json["id"]) == (-32700, None)
    assert unknown["error"] == {"code": -32601, "message": "Method not found"}
    assert bad_key["error"] == {"code": -32602, "message": "Invalid param: Invalid"}
    assert requests.post(localnet.url, json={"id": 3}, timeout=5).json()["error"]["code"] == -32600


def test_a_batch_is_answered_in_order(localnet, chain):
    calls = [
        {"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
        {"jsonrpc": "2.0", "id": 2, "method": "nope"},
        {"jsonrpc": "2.0", "id": 3, "method": "getBlockHeight"},
    ]

    answers = requests.post(localnet.url, json=calls, timeout=5).json()

    assert [answer["id"] for answer in answers] == [1, 2, 3]
    assert answers[1]["error"]["code"] == -32601
    assert answers[0]["result"] - answers[2]["result"] > 0


def test_balances_of_a_funded_and_an_unknown_wallet(rpc, trader):
    assert rpc.value("getBalance", str(trader.pubkey())) == TRADER_LAMPORTS
    assert rpc.value("getBalance", str(Keypair().pubkey())) == 0
    assert rpc.value("getAccountInfo", str(Keypair().pubkey()), {"encoding": "base64"}) is None


def test_a_token_is_a_real_spl_mint_whose_decimals_are_at_byte_44(rpc, chain, token):
    info = rpc.value("getAccountInfo", token, {"encoding": "base64"})
    data = base64.b64decode(info["data"][0])
    sliced = rpc.value(
        "getAccountInfo", token, {"encoding": "base64", "dataSlice": {"offset": 44, "length": 1}}
    )
    parsed = rpc.value("getAccountInfo", token, {"encoding": "jsonParsed"})

    assert (info["owner"], info["space"], len(data)) == (TOKEN_PROGRAM, 82, 82)
    assert data[DECIMALS_OFFSET] == DECIMALS
    assert base64.b64decode(sliced["data"][0]) == bytes([DECIMALS])
    assert parsed["data"]["parsed"]["type"] == "mint"
    assert parsed["data"]["parsed"]["info"]["decimals"] == DECIMALS


def test_the_pool_holds_every_token_minted(rpc, chain, token):
    """The pool's tokens came from a real MintTo: the program raised the supply to match."""
    pool = chain.pool(Pubkey.from_string(token)).pubkey()
    (account,) = rpc.value(
        "getTokenAccountsByOwner",
        str(pool),
        {"programId": TOKEN_PROGRAM},
        {"encoding": "jsonParsed"},
    )
    supply = rpc.value("getAccountInfo", token, {"encoding": "jsonParsed"})["data"]["parsed"]

    held = account["account"]["data"]["parsed"]["info"]["tokenAmount"]["amount"]
    assert held == supply["info"]["supply"]
    assert int(held) > 0
    assert rpc.value("getBalance", str(pool)) > 0


def test_token_balances_in_base64_and_ui_units(localnet, rpc, chain, trader, token):
    buy = buy_quote(localnet.url, token, 10**9)
    send(rpc, signed(swap(localnet.url, buy, trader)["swapTransaction"], trader))
    chain.advance(1)
    ata = get_associated_token_address(trader.pubkey(), Pubkey.from_string(token))

    (raw,) = rpc.value(
        "getTokenAccountsByOwner", str(trader.pubkey()), {"mint": token}, {"encoding": "base64"}
    )
    balance = rpc.value("getTokenAccountBalance", str(ata))

    data = base64.b64decode(raw["account"]["data"][0])
    assert len(data) == 165
    assert int.from_bytes(data[64:72], "little") == int(buy["outAmount"])  # the amount field
    out = int(buy["outAmount"])
    assert balance["amount"] == str(out)
    assert balance["decimals"] == DECIMALS
    whole, fraction = divmod(out, 10**DECIMALS)
    assert balance["uiAmountString"] == f"{whole}.{fraction:06d}".rstrip("0").rstrip(".")


def test_token_account_balance_of_a_missing_account_is_invalid_params(rpc, chain):
    with pytest.raises(RpcFailure) as failure:
        rpc("getTokenAccountBalance", str(Keypair().pubkey()))
    assert (failure.value.code, failure.value.message) == (
        -32602,
        "Invalid param: could not find account",
    )


def test_send_takes_base58_too(localnet, rpc, chain, trader, token):
    transaction = signed(
        swap(localnet.url, buy_quote(localnet.url, token, 10**8), trader)["swapTransaction"], trader
    )

    signature = rpc("sendTransaction", base58.b58encode(bytes(transaction)).decode())

    assert signature == str(transaction.signatures[0])


def test_undecodable_transactions_are_invalid_params(rpc, chain):
    with pytest.raises(RpcFailure) as failure:
        rpc("sendTransaction", base64.b64encode(b"garbage").decode(), {"encoding": "base64"})
    assert failure.value.code == -32602


def test_simulation_shows_the_swap_without_making_it(localnet, rpc, chain, trader, token):
    buy = buy_quote(localnet.url, token, 10**9)
    unsigned = swap(localnet.url, buy, trader)["swapTransaction"]

    value = rpc.value(
        "simulateTransaction",
        unsigned,
        {"encoding": "base64", "sigVerify": False, "replaceRecentBlockhash": True},
    )

    assert value["err"] is None
    assert value["replacementBlockhash"]["lastValidBlockHeight"] > rpc("getBlockHeight")
    assert value["unitsConsumed"] > 0
    assert value["fee"] > 0
    (received,) = [b for b in value["postTokenBalances"] if b["owner"] == str(trader.pubkey())]
    assert received["uiTokenAmount"]["amount"] == buy["outAmount"]
    assert rpc.value("getBalance", str(trader.pubkey())) == TRADER_LAMPORTS


def test_simulation_failure_is_a_200_with_err(localnet, rpc, chain, token):
    broke = Keypair()
    unsigned = swap(localnet.url, buy_quote(localnet.url, token, 10**9), broke)["swapTransaction"]

    value = rpc.value("simulateTransaction", unsigned, {"encoding": "base64"})

    assert value["err"] == "AccountNotFound"


def test_get_transaction_needs_the_supported_version_and_a_confirmed_commitment(
    localnet, rpc, chain, trader, token
):
    transaction = signed(
        swap(localnet.url, buy_quote(localnet.url, token, 10**8), trader)["swapTransaction"], trader
    )
    signature = send(rpc, transaction)
    chain.advance(2)

    with pytest.raises(RpcFailure) as unversioned:
        rpc("getTransaction", signature, {"commitment": "confirmed"})
    with pytest.raises(RpcFailure) as processed:
        rpc(
            "getTransaction",
            signature,
            {"commitment": "processed", "maxSupportedTransactionVersion": 0},
        )
    encoded = rpc(
        "getTransaction",
        signature,
        {"commitment": "confirmed", "maxSupportedTransactionVersion": 0, "encoding": "base64"},
    )

    assert unversioned.value.code == -32015
    assert processed.value.code == -32602
    assert base64.b64decode(encoded["transaction"][0]) == bytes(transaction)
    assert (
        rpc(
            "getTransaction",
            str(Keypair().sign_message(b"never sent")),
            {"commitment": "confirmed", "maxSupportedTransactionVersion": 0},
        )
        is None
    )


def test_statuses_are_null_for_unknown_signatures_and_capped_at_256(rpc, chain):
    unknown = str(Keypair().sign_message(b"x"))
    assert rpc.value("getSignatureStatuses", [unknown]) == [None]
    with pytest.raises(RpcFailure) as failure:
        rpc("getSignatureStatuses", [unknown] * 257)
    assert failure.value.code == -32602


def test_request_airdrop_funds_a_wallet(rpc, chain):
    wallet = str(Keypair().pubkey())
    rpc("requestAirdrop", wallet, 123_456_789)
    assert rpc.value("getBalance", wallet) == 123_456_789


def test_control_routes_drive_the_chain(localnet, post, rpc, chain, trader, token):
    wallet = str(Keypair().pubkey())
    slot = rpc("getSlot")

    assert (
        post("/_localnet/airdrop", {"pubkey": wallet, "lamports": 5 * 10**9}).json()["balance"]
        == 5 * 10**9
    )
    assert post("/_localnet/advance", {"slots": 3}).json()["slot"] == slot + 3
    assert post("/_localnet/slot_time", {"seconds": None}).json()["slot_seconds"] is None
    assert post("/_localnet/chain_fault", {"kind": "never_lands"}).ok
    assert post("/_localnet/chain_fault", {"kind": "sideways"}).status_code == 400
    assert post("/_localnet/latency", {"service": "solana_rpc", "seconds": "0"}).ok

    transaction = signed(
        swap(localnet.url, buy_quote(localnet.url, token, 10**8), trader)["swapTransaction"], trader
    )
    signature = rpc("sendTransaction", wire(transaction), {"encoding": "base64"})
    post("/_localnet/advance", {"slots": 2})
    assert rpc.value("getSignatureStatuses", [signature]) == [None]  # the injected fault
