"""A client's whole swap on localnet's real SVM: quote, swap transaction, sign, send, confirm,
read back; and every way it fails (external-apis.md §1.3-1.5, §4.3-4.5)."""

import base64
import time
from decimal import Decimal

import pytest
import requests
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from tests.localnet.solana import (
    RpcFailure,
    buy_quote,
    quote,
    send,
    signed,
    swap,
    token_balance,
    transaction_of,
    wire,
)
from tests.localnet.support import (
    BLOCKHASH_VALIDITY,
    SIGNATURE_FEE,
    TRADER_LAMPORTS,
    WSOL,
)

SLIPPAGE_LOG = "custom program error: 0x1771"


def _status(rpc, signature):
    (status,) = rpc.value("getSignatureStatuses", [signature])
    return status


def _buy(localnet, rpc, chain, trader, token, lamports=10**9):
    """A confirmed Metis buy; returns (quote, signature)."""
    buy = buy_quote(localnet.url, token, lamports)
    built = swap(localnet.url, buy, trader)
    signature = send(rpc, signed(built["swapTransaction"], trader))
    chain.advance(2)
    assert _status(rpc, signature)["err"] is None
    return buy, signature


def test_a_metis_buy_moves_exactly_the_quoted_amounts_on_chain(localnet, rpc, chain, trader, token):
    buy = buy_quote(localnet.url, token, 10**9)
    built = swap(localnet.url, buy, trader)
    unsigned = VersionedTransaction.from_bytes(base64.b64decode(built["swapTransaction"]))
    user = str(trader.pubkey())

    # The engine's side: the fee payer is the user, whose signature slot is left empty; the
    # pool has signed its legs already; the blockhash is live.
    assert str(unsigned.message.account_keys[0]) == user
    assert unsigned.signatures[0] == Signature.default()
    assert unsigned.verify_with_results()[1:] == [True]
    assert built["lastValidBlockHeight"] == rpc("getBlockHeight") + BLOCKHASH_VALIDITY
    signature = send(rpc, signed(built["swapTransaction"], trader))
    assert signature == str(signed(built["swapTransaction"], trader).signatures[0])

    assert _status(rpc, signature) is None  # lands at the next slot
    chain.advance(1)
    assert _status(rpc, signature)["confirmationStatus"] == "processed"
    assert transaction_of(rpc, signature) is None  # not yet confirmed
    chain.advance(1)
    assert _status(rpc, signature)["confirmationStatus"] == "confirmed"

    landed = transaction_of(rpc, signature)
    meta = landed["meta"]
    keys = landed["transaction"]["message"]["accountKeys"]
    assert meta["err"] is None
    assert landed["version"] == 0
    ata = str(get_associated_token_address(trader.pubkey(), Pubkey.from_string(token)))
    rent = rpc.value("getAccountInfo", ata, {"encoding": "base64"})["lamports"]
    spent = meta["preBalances"][0] - meta["postBalances"][0]
    assert spent == int(buy["inAmount"]) + meta["fee"] + rent
    assert meta["fee"] == 2 * SIGNATURE_FEE + built["prioritizationFeeLamports"]
    assert token_balance(meta["preTokenBalances"], user) is None
    assert token_balance(meta["postTokenBalances"], user) == int(buy["outAmount"])
    pool = str(unsigned.message.account_keys[1])
    pool_index = keys.index(pool)
    assert meta["postBalances"][pool_index] - meta["preBalances"][pool_index] == int(
        buy["inAmount"]
    )
    pool_tokens = token_balance(meta["preTokenBalances"], pool) - token_balance(
        meta["postTokenBalances"], pool
    )
    assert pool_tokens == int(buy["outAmount"])

    # Reading the wallet back the ways the engine will.
    assert rpc.value("getBalance", user) == TRADER_LAMPORTS - spent
    assert rpc.value("getTokenAccountBalance", ata)["amount"] == buy["outAmount"]
    (account,) = rpc.value(
        "getTokenAccountsByOwner", user, {"mint": token}, {"encoding": "jsonParsed"}
    )
    assert account["pubkey"] == ata
    info = account["account"]["data"]["parsed"]["info"]
    assert (info["mint"], info["owner"]) == (token, user)
    assert info["tokenAmount"]["amount"] == buy["outAmount"]


def test_a_sell_gives_the_tokens_back_for_the_quoted_sol(localnet, rpc, chain, trader, token):
    bought, _ = _buy(localnet, rpc, chain, trader, token)
    tokens = int(bought["outAmount"]) // 2
    sell = quote(localnet.url, token, WSOL, tokens)
    built = swap(localnet.url, sell, trader)
    signature = send(rpc, signed(built["swapTransaction"], trader))
    chain.advance(2)

    meta = transaction_of(rpc, signature)["meta"]
    user = str(trader.pubkey())
    assert meta["err"] is None
    assert meta["postBalances"][0] - meta["preBalances"][0] == int(sell["outAmount"]) - meta["fee"]
    sold = token_balance(meta["preTokenBalances"], user) - token_balance(
        meta["postTokenBalances"], user
    )
    assert sold == tokens
    assert token_balance(meta["postTokenBalances"], user) == int(bought["outAmount"]) - tokens


def test_statuses_run_processed_confirmed_finalized_as_slots_pass(
    localnet, rpc, chain, trader, token
):
    _, signature = _buy(localnet, rpc, chain, trader, token)
    assert _status(rpc, signature)["confirmations"] == 1
    chain.advance(31)
    status = _status(rpc, signature)
    assert (status["confirmationStatus"], status["confirmations"]) == ("finalized", None)
    assert transaction_of(rpc, signature, commitment="finalized") is not None


def test_slots_pass_in_real_time(localnet, rpc, market, trader, token):
    market.set_slot_time(0.02)
    built = swap(localnet.url, buy_quote(localnet.url, token, 10**8), trader)
    signature = send(rpc, signed(built["swapTransaction"], trader))
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "confirmed" not in seen:
        status = _status(rpc, signature)
        level = status and status["confirmationStatus"]
        if level and level not in seen:
            seen.append(level)
        time.sleep(0.005)
    assert seen[-1] == "confirmed"
    assert set(seen) <= {"processed", "confirmed"}


def test_ultra_order_then_execute_lands_and_answers_the_amounts(
    localnet, rpc, market, trader, token
):
    market.set_slot_time(0.01)
    order = requests.get(
        f"{localnet.url}/ultra/v1/order",
        params={
            "inputMint": WSOL,
            "outputMint": token,
            "amount": 10**9,
            "taker": str(trader.pubkey()),
        },
        timeout=10,
    ).json()
    assert order["taker"] == str(trader.pubkey())
    assert order["requestId"] and order["transaction"]
    transaction = signed(order["transaction"], trader)

    result = requests.post(
        f"{localnet.url}/ultra/v1/execute",
        json={"signedTransaction": wire(transaction), "requestId": order["requestId"]},
        timeout=10,
    ).json()

    assert (result["status"], result["code"]) == ("Success", 0)
    assert result["signature"] == str(transaction.signatures[0])
    assert (result["inputAmountResult"], result["outputAmountResult"]) == (
        order["inAmount"],
        order["outAmount"],
    )
    ata = str(get_associated_token_address(trader.pubkey(), Pubkey.from_string(token)))
    assert rpc.value("getTokenAccountBalance", ata)["amount"] == order["outAmount"]
    assert _status(rpc, result["signature"])["slot"] == int(result["slot"])


def test_an_execute_whose_answer_is_lost_still_lands_and_an_order_is_spared(
    localnet, post, rpc, market, trader, token
):
    market.set_slot_time(0.01)
    # Only /execute is disturbed, and only after it has acted: the answer is lost, the swap not.
    assert post(
        "/_localnet/fault",
        {"service": "jupiter_ultra", "status": 504, "path": "/execute", "after": True},
    ).ok
    order = requests.get(
        f"{localnet.url}/ultra/v1/order",
        params={
            "inputMint": WSOL,
            "outputMint": token,
            "amount": 10**9,
            "taker": str(trader.pubkey()),
        },
        timeout=10,
    )
    transaction = signed(order.json()["transaction"], trader)

    lost = requests.post(
        f"{localnet.url}/ultra/v1/execute",
        json={"signedTransaction": wire(transaction), "requestId": order.json()["requestId"]},
        timeout=10,
    )

    assert order.status_code == 200
    assert lost.status_code == 504
    assert _status(rpc, str(transaction.signatures[0]))["err"] is None


def test_ultra_order_for_a_taker_who_cannot_pay_says_insufficient_funds(localnet, chain, token):
    broke = Keypair()
    order = requests.get(
        f"{localnet.url}/swap/v2/order",
        params={
            "inputMint": WSOL,
            "outputMint": token,
            "amount": 10**9,
            "taker": str(broke.pubkey()),
        },
        timeout=10,
    )
    assert order.status_code == 200
    body = order.json()
    assert (body["transaction"], body["errorCode"], body["errorMessage"]) == (
        "",
        1,
        "Insufficient funds",
    )


def test_execute_refuses_a_modified_or_unknown_order(localnet, market, trader, token):
    params = {
        "inputMint": WSOL,
        "outputMint": token,
        "amount": 10**9,
        "taker": str(trader.pubkey()),
    }
    order = requests.get(f"{localnet.url}/ultra/v1/order", params=params, timeout=10).json()
    other = requests.get(
        f"{localnet.url}/ultra/v1/order", params={**params, "amount": 2 * 10**9}, timeout=10
    ).json()
    execute = f"{localnet.url}/ultra/v1/execute"

    swapped = requests.post(
        execute,
        json={
            "signedTransaction": wire(signed(other["transaction"], trader)),
            "requestId": order["requestId"],
        },
        timeout=10,
    ).json()
    unknown = requests.post(
        execute,
        json={"signedTransaction": wire(signed(order["transaction"], trader)), "requestId": "nope"},
        timeout=10,
    ).json()

    assert (swapped["status"], swapped["code"]) == ("Failed", -3)
    assert (unknown["status"], unknown["code"]) == ("Failed", -1)


def test_a_price_move_beyond_slippage_fails_on_chain_with_6001_and_costs_only_the_fee(
    localnet, rpc, chain, market, trader, token
):
    buy = buy_quote(localnet.url, token, 10**9, slippageBps=50)
    built = swap(localnet.url, buy, trader)
    market.set_price(token, market.price_sol(token) * Decimal("1.01"))  # 1% dearer: > 0.5%
    signature = send(rpc, signed(built["swapTransaction"], trader), skipPreflight=True)
    chain.advance(2)

    status = _status(rpc, signature)
    assert status["confirmationStatus"] == "confirmed"
    (index, detail) = status["err"]["InstructionError"]
    assert detail == {"Custom": 6001}
    meta = transaction_of(rpc, signature)["meta"]
    assert meta["err"] == status["err"]
    assert any(SLIPPAGE_LOG in line for line in meta["logMessages"])
    assert meta["preBalances"][0] - meta["postBalances"][0] == meta["fee"] > 0
    assert meta["postTokenBalances"] == meta["preTokenBalances"]
    assert rpc.value("getBalance", str(trader.pubkey())) == TRADER_LAMPORTS - meta["fee"]
    assert rpc.value("getTokenAccountsByOwner", str(trader.pubkey()), {"mint": token}, {}) == []
    instructions = transaction_of(rpc, signature)["transaction"]["message"]["instructions"]
    assert 0 <= index < len(instructions)


def test_a_price_move_within_slippage_still_fills_the_quote(
    localnet, rpc, chain, market, trader, token
):
    buy = buy_quote(localnet.url, token, 10**9, slippageBps=100)
    built = swap(localnet.url, buy, trader)
    market.set_price(token, market.price_sol(token) * Decimal("1.005"))
    signature = send(rpc, signed(built["swapTransaction"], trader))
    chain.advance(2)

    meta = transaction_of(rpc, signature)["meta"]
    assert meta["err"] is None
    assert token_balance(meta["postTokenBalances"], str(trader.pubkey())) == int(buy["outAmount"])


def test_preflight_reports_a_slippage_failure_as_32002(localnet, rpc, chain, market, trader, token):
    built = swap(localnet.url, buy_quote(localnet.url, token, 10**9), trader)
    market.set_price(token, market.price_sol(token) * 2)

    with pytest.raises(RpcFailure) as failure:
        send(rpc, signed(built["swapTransaction"], trader))

    error = failure.value
    assert error.code == -32002
    assert error.message.startswith("Transaction simulation failed: Error processing Instruction ")
    assert error.message.endswith(": custom program error: 0x1771")
    assert error.data["err"]["InstructionError"][1] == {"Custom": 6001}
    assert any(SLIPPAGE_LOG in line for line in error.data["logs"])
    chain.advance(5)
    assert rpc.value("getBalance", str(trader.pubkey())) == TRADER_LAMPORTS  # nothing was sent


def test_injected_slippage_fails_ultra_execute_with_code_6001(
    localnet, market, chain, trader, token
):
    market.set_slot_time(0.01)
    chain.inject_slippage()
    order = requests.get(
        f"{localnet.url}/ultra/v1/order",
        params={
            "inputMint": WSOL,
            "outputMint": token,
            "amount": 10**9,
            "taker": str(trader.pubkey()),
        },
        timeout=10,
    ).json()

    result = requests.post(
        f"{localnet.url}/ultra/v1/execute",
        json={
            "signedTransaction": wire(signed(order["transaction"], trader)),
            "requestId": order["requestId"],
        },
        timeout=10,
    ).json()

    assert (result["status"], result["code"], result["error"]) == (
        "Failed",
        6001,
        "Slippage tolerance exceeded",
    )
    assert result["signature"]


def test_a_transaction_that_never_lands_expires_with_its_blockhash(
    localnet, rpc, chain, trader, token
):
    chain.inject_never_lands()
    built = swap(localnet.url, buy_quote(localnet.url, token, 10**9), trader)
    transaction = signed(built["swapTransaction"], trader)
    signature = send(rpc, transaction)

    chain.advance(BLOCKHASH_VALIDITY)
    assert _status(rpc, signature) is None
    assert rpc("getBlockHeight") == built["lastValidBlockHeight"]  # still valid: resending helps
    assert send(rpc, transaction, skipPreflight=True) == signature
    chain.advance(1)
    assert rpc("getBlockHeight") > built["lastValidBlockHeight"]
    assert _status(rpc, signature) is None
    assert rpc.value("getBalance", str(trader.pubkey())) == TRADER_LAMPORTS


def test_ultra_execute_of_a_transaction_that_never_lands_answers_expired(
    localnet, market, chain, trader, token
):
    market.set_slot_time(0.002)
    chain.inject_never_lands()
    order = requests.get(
        f"{localnet.url}/ultra/v1/order",
        params={
            "inputMint": WSOL,
            "outputMint": token,
            "amount": 10**9,
            "taker": str(trader.pubkey()),
        },
        timeout=10,
    ).json()

    result = requests.post(
        f"{localnet.url}/ultra/v1/execute",
        json={
            "signedTransaction": wire(signed(order["transaction"], trader)),
            "requestId": order["requestId"],
        },
        timeout=10,
    ).json()

    assert (result["status"], result["code"], result["error"]) == (
        "Failed",
        -1005,
        "Transaction expired",
    )


def test_an_expired_blockhash_is_refused_by_preflight_and_never_lands_without(
    localnet, rpc, chain, trader, token
):
    built = swap(localnet.url, buy_quote(localnet.url, token, 10**9), trader)
    transaction = signed(built["swapTransaction"], trader)
    chain.advance(BLOCKHASH_VALIDITY + 1)

    with pytest.raises(RpcFailure) as failure:
        send(rpc, transaction)
    assert failure.value.code == -32002
    assert failure.value.message == "Transaction simulation failed: Blockhash not found"
    assert failure.value.data["err"] == "BlockhashNotFound"
    assert failure.value.data["logs"] == []

    signature = send(rpc, transaction, skipPreflight=True)
    chain.advance(3)
    assert _status(rpc, signature) is None
    assert rpc.value("getBalance", str(trader.pubkey())) == TRADER_LAMPORTS


def test_a_bad_signature_is_refused_and_never_lands(localnet, rpc, chain, trader, token):
    built = swap(localnet.url, buy_quote(localnet.url, token, 10**9), trader)
    forged = signed(built["swapTransaction"], Keypair())  # signed by someone else

    with pytest.raises(RpcFailure) as failure:
        send(rpc, forged)
    assert (failure.value.code, failure.value.message) == (
        -32003,
        "Transaction signature verification failure",
    )
    signature = send(rpc, forged, skipPreflight=True)
    chain.advance(3)
    assert _status(rpc, signature) is None
    assert rpc.value("getBalance", str(trader.pubkey())) == TRADER_LAMPORTS


def test_an_injected_preflight_failure_refuses_one_send(localnet, rpc, chain, trader, token):
    chain.inject_preflight_failure()
    built = swap(localnet.url, buy_quote(localnet.url, token, 10**9), trader)
    transaction = signed(built["swapTransaction"], trader)

    with pytest.raises(RpcFailure) as failure:
        send(rpc, transaction)
    assert failure.value.code == -32002
    assert failure.value.data["err"] == {"InstructionError": [3, {"Custom": 6001}]}
    signature = send(rpc, transaction)
    chain.advance(2)
    assert _status(rpc, signature)["err"] is None


def test_rpc_429_is_a_json_rpc_error_then_recovers(localnet, rpc, market, chain):
    market.inject_fault("solana_rpc", status=429)

    limited = rpc.raw("getBlockHeight")

    assert limited.status_code == 429
    body = limited.json()
    assert body["error"]["code"] == 429
    assert body["id"] is not None
    assert rpc("getBlockHeight") > 0


def test_latency_is_added_to_every_call_of_a_service(localnet, rpc, market, chain):
    market.set_latency("solana_rpc", 0.15)
    started = time.monotonic()
    rpc("getBlockHeight")
    rpc("getSlot")
    assert time.monotonic() - started >= 0.3

    market.set_latency("solana_rpc", 0)
    started = time.monotonic()
    rpc("getBlockHeight")
    assert time.monotonic() - started < 0.15


def test_swap_builds_only_from_a_quote_it_gave(localnet, chain, trader, token):
    buy = buy_quote(localnet.url, token, 10**9)
    tampered = {**buy, "outAmount": str(int(buy["outAmount"]) * 2)}

    response = requests.post(
        f"{localnet.url}/swap/v1/swap",
        json={"userPublicKey": str(trader.pubkey()), "quoteResponse": tampered},
        timeout=10,
    )

    assert response.status_code == 400
    assert "quoteResponse" in response.json()["error"]


def test_a_resent_transaction_lands_once(localnet, rpc, chain, trader, token):
    buy = buy_quote(localnet.url, token, 10**9)
    transaction = signed(swap(localnet.url, buy, trader)["swapTransaction"], trader)
    signature = send(rpc, transaction)
    assert send(rpc, transaction, skipPreflight=True) == signature
    chain.advance(2)
    assert send(rpc, transaction, skipPreflight=True) == signature
    chain.advance(2)

    ata = str(get_associated_token_address(trader.pubkey(), Pubkey.from_string(token)))
    assert rpc.value("getTokenAccountBalance", ata)["amount"] == buy["outAmount"]
    with pytest.raises(RpcFailure) as failure:
        send(rpc, transaction)  # with preflight: already processed
    assert failure.value.data["err"] == "AlreadyProcessed"
