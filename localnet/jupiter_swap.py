"""Jupiter's transaction endpoints over the chain: Metis `POST /swap/v1/swap` (a quote passed
back unchanged -> an unsigned swap transaction) and Ultra / Swap v2 `GET /order` + `POST
/execute` (external-apis.md §1.3, §1.5). The transactions are real (localnet.swaps): the engine
deserializes, signs and sends them to the chain, or hands them back to /execute."""

import base64
import json
import time
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any, NamedTuple

from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from localnet import spl
from localnet.answers import Rejected, Request, Response, json_response, jupiter_error, number
from localnet.market import QuoteError, SyntheticMarket
from localnet.svm import SLIPPAGE_EXCEEDED, Chain
from localnet.swaps import (
    COMPUTE_UNIT_LIMIT,
    DEFAULT_COMPUTE_UNIT_PRICE,
    PRIORITY_LEVEL_PRICES,
    SwapPlan,
    build_swap,
    priority_fee_lamports,
)
from nexgent.money import WSOL_MINT

# Ultra picks the slippage itself; a fixed bound stands in for its estimate.
ULTRA_SLIPPAGE_BPS = 50
# How long /execute waits for its transaction to confirm before answering -1006 (timed out);
# an expired blockhash ends the wait sooner.
EXECUTE_TIMEOUT_SECONDS = 60.0
SIGNATURE_FEE_LAMPORTS = 5_000
TOKEN_ACCOUNT_RENT_LAMPORTS = 2_039_280


def _body(request: Request) -> dict:
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise jupiter_error(f"Failed to deserialize the JSON body: {exc}") from exc
    if not isinstance(payload, dict):
        raise jupiter_error("Failed to deserialize the JSON body: expected an object")
    return payload


def _user(text: Any, name: str) -> Pubkey:
    try:
        return Pubkey.from_string(str(text))
    except ValueError as exc:
        raise jupiter_error(f"Invalid {name}: {text!r}") from exc


def _still_fills(market: SyntheticMarket, plan: SwapPlan):
    amount = plan.in_amount if plan.swap_mode == "ExactIn" else plan.out_amount
    return lambda: market.still_fills(
        plan.input_mint, plan.output_mint, amount, plan.swap_mode, plan.threshold
    )


def _compute_unit_price(payload: dict) -> int:
    """From computeUnitPriceMicroLamports, or prioritizationFeeLamports (a lamport amount, or a
    priority level capped by maxLamports); Jupiter's "auto" otherwise."""
    price, fee = (
        payload.get("computeUnitPriceMicroLamports"),
        payload.get("prioritizationFeeLamports"),
    )
    if price is not None and fee is not None:
        raise jupiter_error(
            "computeUnitPriceMicroLamports and prioritizationFeeLamports are mutually exclusive",
            "INVALID_COMPUTE_UNIT_PRICE_AND_PRIORITIZATION_FEE",
        )
    if price is not None:
        return _non_negative_int(price, "computeUnitPriceMicroLamports")
    if isinstance(fee, int) and not isinstance(fee, bool):
        lamports = _non_negative_int(fee, "prioritizationFeeLamports")
        return lamports * 1_000_000 // COMPUTE_UNIT_LIMIT
    if isinstance(fee, dict) and isinstance(fee.get("priorityLevelWithMaxLamports"), dict):
        level = fee["priorityLevelWithMaxLamports"]
        wanted = PRIORITY_LEVEL_PRICES.get(level.get("priorityLevel"), DEFAULT_COMPUTE_UNIT_PRICE)
        cap = level.get("maxLamports")
        if cap is not None:
            wanted = min(
                wanted, _non_negative_int(cap, "maxLamports") * 1_000_000 // COMPUTE_UNIT_LIMIT
            )
        return wanted
    return DEFAULT_COMPUTE_UNIT_PRICE


def _non_negative_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise jupiter_error(f"Invalid {name}: {value!r}")
    return value


def _build(market: SyntheticMarket, user: Pubkey, plan: SwapPlan, price: int):
    chain = market.chain
    return build_swap(
        chain,
        user=user,
        plan=plan,
        still_fills=_still_fills(market, plan),
        compute_unit_price=price,
    )


def _at_todays_price(market: SyntheticMarket, plan: SwapPlan) -> SwapPlan:
    """An ExactIn swap delivers what the pool gives now, as a real route does: when the price
    moved since the quote, more or less than quoted. Below the quote's minimum the plan stays
    as quoted, and the swap fails its minimum-out check when it executes."""
    if plan.swap_mode != "ExactIn":
        return plan
    try:
        now = market.quote(plan.input_mint, plan.output_mint, plan.in_amount, 0, remember=False)
    except QuoteError:
        return plan
    out = int(now["outAmount"])
    return replace(plan, out_amount=out) if out >= plan.threshold else plan


# Metis v1


def swap(market: SyntheticMarket, request: Request) -> Response:
    """POST /swap/v1/swap: {userPublicKey, quoteResponse (unchanged), priority options}."""
    payload = _body(request)
    if "userPublicKey" not in payload:
        raise jupiter_error("Missing field userPublicKey")
    user = _user(payload["userPublicKey"], "userPublicKey")
    quote = payload.get("quoteResponse")
    if not isinstance(quote, dict):
        raise jupiter_error("Missing field quoteResponse")
    if not market.quote_issued(quote):
        raise jupiter_error("Invalid quoteResponse: not a quote this server gave")
    plan = _at_todays_price(market, SwapPlan.from_quote(quote, WSOL_MINT))
    price = _compute_unit_price(payload)
    transaction, last_valid = _build(market, user, plan, price)
    priority = priority_fee_lamports(price)
    return json_response(
        {
            "swapTransaction": base64.b64encode(bytes(transaction)).decode(),
            "lastValidBlockHeight": last_valid,
            "prioritizationFeeLamports": priority,
            "computeUnitLimit": COMPUTE_UNIT_LIMIT,
            "prioritizationType": {
                "computeBudget": {"microLamports": price, "estimatedMicroLamports": price}
            },
            "dynamicSlippageReport": None,
            "simulationError": None,
        }
    )


# Ultra / Swap v2


class _Order(NamedTuple):
    """What Ultra caches per requestId for /execute."""

    plan: SwapPlan
    message: bytes
    last_valid: int


def _param_mint(request: Request, name: str) -> str:
    text = request.param(name)
    if text is None:
        raise jupiter_error(f"Query parameter {name} is missing")
    return str(_user(text, name))


def order(market: SyntheticMarket, request: Request) -> Response:
    """GET /order?inputMint&outputMint&amount[&taker]: a quote, and with a taker the
    transaction to sign; an error inside a 200 when the taker cannot pay."""
    started = time.perf_counter()
    input_mint, output_mint = _param_mint(request, "inputMint"), _param_mint(request, "outputMint")
    amount_text = request.param("amount") or ""
    if not amount_text.isdigit():
        raise jupiter_error(f"Query parameter amount cannot be parsed: {amount_text!r}")
    try:
        quote = market.quote(input_mint, output_mint, int(amount_text), ULTRA_SLIPPAGE_BPS)
    except QuoteError as error:
        raise Rejected(json_response({"error": "Failed to get quotes"}, 400)) from error
    plan = SwapPlan.from_quote(quote, WSOL_MINT)
    taker_text = request.param("taker")
    price = DEFAULT_COMPUTE_UNIT_PRICE
    body = {
        **quote,
        "mode": "ultra",
        "priceImpact": number(Decimal(quote["priceImpactPct"]) * 100, 6),
        "feeMint": WSOL_MINT,
        "feeBps": 0,
        "signatureFeeLamports": 0,
        "signatureFeePayer": None,
        "prioritizationFeeLamports": priority_fee_lamports(price),
        "prioritizationFeePayer": None,
        "rentFeeLamports": 0,
        "rentFeePayer": None,
        "swapType": "aggregator",
        "router": "metis",
        "transaction": None,
        "gasless": False,
        "requestId": str(uuid.uuid4()),
        "taker": taker_text,
    }
    if taker_text is not None:
        taker = _user(taker_text, "taker")
        body.update(_taker_part(market, taker, plan, price))
    body["totalTime"] = round((time.perf_counter() - started) * 1000, 3)
    return json_response(body)


def _taker_part(market: SyntheticMarket, taker: Pubkey, plan: SwapPlan, price: int) -> dict:
    chain = market.chain
    holding = _holding(chain, taker, plan)
    rent = (
        0
        if chain.account(spl.associated_address(taker, plan.token))
        else TOKEN_ACCOUNT_RENT_LAMPORTS
    )
    signature_fee = 2 * SIGNATURE_FEE_LAMPORTS  # the taker pays for the pool's signature too
    part: dict[str, Any] = {
        "signatureFeeLamports": signature_fee,
        "signatureFeePayer": str(taker),
        "prioritizationFeePayer": str(taker),
        "rentFeeLamports": rent,
        "rentFeePayer": str(taker) if rent else None,
    }
    if holding < plan.in_amount:
        part.update({"transaction": "", "errorCode": 1, "errorMessage": "Insufficient funds"})
        return part
    transaction, last_valid = _build(market, taker, plan, price)
    request_id = str(uuid.uuid4())
    market.remember_order(request_id, _Order(plan, bytes(transaction.message), last_valid))
    part.update(
        {
            "transaction": base64.b64encode(bytes(transaction)).decode(),
            "requestId": request_id,
            "lastValidBlockHeight": last_valid,
        }
    )
    return part


def _holding(chain: Chain, taker: Pubkey, plan: SwapPlan) -> int:
    if not plan.selling:
        return chain.balance(taker)
    amount = chain.token_amount(spl.associated_address(taker, plan.token))
    return 0 if amount is None else amount.amount


def _failed(code: int, error: str, signature: str = "", slot: int = 0) -> Response:
    return json_response(
        {
            "status": "Failed",
            "signature": signature,
            "slot": str(slot),
            "code": code,
            "error": error,
        }
    )


def execute(market: SyntheticMarket, request: Request) -> Response:
    """POST /execute {signedTransaction, requestId}: send it, wait until it confirms or its
    blockhash expires, answer with the outcome and the amounts."""
    payload = _body(request)
    request_id, signed = payload.get("requestId"), payload.get("signedTransaction")
    if not request_id:
        return _failed(-4, "Missing requestId")
    if not signed:
        return _failed(-5, "Missing signedTransaction")
    placed = market.order(str(request_id))
    if not isinstance(placed, _Order):
        return _failed(-1, "Order not found: the requestId is unknown or expired")
    try:
        transaction = VersionedTransaction.from_bytes(base64.b64decode(str(signed), validate=True))
    except ValueError:
        return _failed(-2, "Invalid signed transaction")
    signature = str(transaction.signatures[0])
    if bytes(transaction.message) != placed.message:
        return _failed(-3, "Invalid message bytes: the transaction was modified", signature)
    if transaction.signatures[0] == Signature.default():
        return _failed(-1003, "Transaction is not fully signed", signature)
    chain = market.chain
    # Ultra lands it itself, without preflight: a failure shows in the outcome.
    chain.send(transaction, preflight=False)
    return _await(chain, transaction.signatures[0], placed)


def _await(chain: Chain, signature: Signature, placed: _Order) -> Response:
    deadline = time.monotonic() + EXECUTE_TIMEOUT_SECONDS
    pace = chain.clock.slot_seconds or 0.05
    while time.monotonic() < deadline:
        status = chain.status(signature)
        if status is not None and status["confirmationStatus"] != "processed":
            return _outcome(signature, status, placed.plan)
        if status is None and chain.block_height() > placed.last_valid:
            return _failed(-1005, "Transaction expired", str(signature))
        time.sleep(min(pace / 4, 0.05))
    return _failed(-1006, "Transaction timed out", str(signature))


def _outcome(signature: Signature, status: dict, plan: SwapPlan) -> Response:
    amounts = {
        "inputAmountResult": str(plan.in_amount),
        "outputAmountResult": str(plan.out_amount),
        "totalInputAmount": str(plan.in_amount),
        "totalOutputAmount": str(plan.out_amount),
        "swapEvents": [
            {
                "inputMint": plan.input_mint,
                "inputAmount": str(plan.in_amount),
                "outputMint": plan.output_mint,
                "outputAmount": str(plan.out_amount),
            }
        ],
    }
    err = status["err"]
    if err is None:
        return json_response(
            {
                "status": "Success",
                "signature": str(signature),
                "slot": str(status["slot"]),
                "code": 0,
                **amounts,
            }
        )
    code, message = -1000, "Transaction failed"
    detail = err.get("InstructionError", [None, None])[1] if isinstance(err, dict) else None
    if isinstance(detail, dict) and "Custom" in detail:
        code = detail["Custom"]
        if code == SLIPPAGE_EXCEEDED:
            message = "Slippage tolerance exceeded"
    return json_response(
        {
            "status": "Failed",
            "signature": str(signature),
            "slot": str(status["slot"]),
            "code": code,
            "error": message,
            # Nothing was swapped: the transaction's only effect was its fee.
            "inputAmountResult": "0",
            "outputAmountResult": "0",
            "totalInputAmount": "0",
            "totalOutputAmount": "0",
        }
    )
