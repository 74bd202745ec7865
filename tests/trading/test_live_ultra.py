"""Route (b): a live agent trading through Jupiter Ultra on localnet's real SVM. The order is
the quote and carries the transaction; the wallet signs it, the swap is recorded, /execute
lands it, and the ledger is written from the chain's own amounts, as route (a)'s. Each way a
swap fails leaves the ledger as it was; an execute whose answer is lost is decided from the
chain and recorded once; a retried action never executes twice."""

from dataclasses import replace
from decimal import Decimal

import pytest

from nexgent import money
from signals_app.models import SignalExecution
from signals_app.services import signal_create
from signals_app.tasks import signal_received
from tests.trading.live_support import (
    DECIMALS,
    WSOL,
    assert_chain_equals_ledger,
    buy,
    chain_sol,
    chain_tokens,
    ledger,
    untouched,
)
from trading.live import SwapFailed, live_swap_resolve
from trading.live_ultra import live_ultra_send
from trading.models import CloseReason, LiveSwap, Position, PositionStatus, Transaction
from trading.services import position_close
from trading.venues import UltraVenue, venue_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def ultra(settings):
    settings.LIVE_SWAP_ROUTE = "ultra"


def _requests(market, endpoint):
    return [r for r in market.recorded("jupiter_ultra") if r.path.endswith(endpoint)]


def test_a_live_wallet_gets_the_ultra_venue(live_wallet):
    assert isinstance(venue_for(live_wallet), UltraVenue)


def test_a_live_agent_buys_on_a_signal_through_ultra_and_the_chain_equals_the_ledger(
    chain, market, user, live_agent, live_wallet, token
):
    market.clear_recorded()
    signal, _ = signal_create(
        owner=user, token_address=token, symbol="LIVE", signal_type="BUY", signal_strength=5
    )
    signal_received(signal)

    execution = SignalExecution.objects.get(signal=signal, agent=live_agent)
    assert execution.status == "executed", (execution.reason, execution.error)
    (order,) = _requests(market, "/order")
    assert order.query["taker"] == [live_wallet.address]
    assert order.query["inputMint"] == [WSOL] and order.query["outputMint"] == [token]
    assert len(_requests(market, "/execute")) == 1
    assert market.recorded("jupiter_quote") == market.recorded("jupiter_swap") == []
    swap = LiveSwap.objects.get(wallet=live_wallet)
    entry = Transaction.objects.get(wallet=live_wallet)
    assert swap.status == "landed"
    assert entry.tx_signature == swap.signature
    assert entry.idempotency_key == swap.action_key == f"buy:{signal.pk}:{live_agent.pk}"
    assert_chain_equals_ledger(chain, live_wallet, token)
    position = Position.objects.get(wallet=live_wallet)
    assert position.remaining_amount == chain_tokens(chain, live_wallet, token) > 0
    assert position.total_invested_sol == Decimal(10) - chain_sol(chain, live_wallet)
    # The shadow twin filled the same order on paper: the order's amounts (what the chain
    # delivered too, the price standing still), with the simulated venue's fees.
    assert money.raw_to_ui(int(swap.quoted_out_raw), DECIMALS) == position.remaining_amount
    assert swap.paper_sol_amount == money.lamports_to_sol(int(swap.quoted_in_raw))
    assert swap.paper_token_amount == money.raw_to_ui(int(swap.quoted_out_raw), DECIMALS)
    assert swap.paper_fee_sol > 0


def test_a_stop_loss_sale_sells_on_chain_and_ultra_picks_its_slippage(
    chain, market, settings, live_agent, live_wallet, token
):
    settings.SWAP_SLIPPAGE_BPS_STOP_LOSS = 700
    bought = buy(live_agent, live_wallet, token)
    market.clear_recorded()

    trade = position_close(position_id=bought.position.pk, reason=CloseReason.STOP_LOSS)

    assert trade is not None
    (order,) = _requests(market, "/order")
    assert order.query["inputMint"] == [token] and order.query["outputMint"] == [WSOL]
    assert "slippageBps" not in order.query  # Ultra takes none: it picks its own
    assert market.recorded("jupiter_quote") == []
    assert_chain_equals_ledger(chain, live_wallet, token)
    assert ledger(live_wallet, token) == 0
    sale = Transaction.objects.get(idempotency_key=f"close:{bought.position.pk}")
    assert LiveSwap.objects.get(signature=sale.tx_signature).side == "sell"
    assert Position.objects.get(pk=bought.position.pk).status == PositionStatus.CLOSED


def test_a_swap_that_slips_on_chain_fails_and_only_its_fee_is_written(
    chain, live_agent, live_wallet, token
):
    chain.inject_slippage()

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token)

    assert failed.value.code == "slippage_exceeded"
    swap = LiveSwap.objects.get(wallet=live_wallet)
    assert (swap.status, swap.reason) == ("failed", "slippage_exceeded")
    # It landed and failed: nothing of the trade is written; the fee the chain charged is, as
    # a FEE entry, so the ledger still equals the chain.
    fee = swap.fee_lamports
    assert fee > 0 and swap.sol_delta_lamports == -fee
    (entry,) = Transaction.objects.filter(wallet=live_wallet)
    assert (entry.type, entry.input_amount, entry.tx_signature) == (
        "FEE",
        money.lamports_to_sol(fee),
        swap.signature,
    )
    assert not Position.objects.filter(wallet=live_wallet).exists()
    assert_chain_equals_ledger(chain, live_wallet, token)


def test_a_swap_that_never_lands_expires_and_writes_nothing(chain, live_agent, live_wallet, token):
    chain.inject_never_lands()

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token)

    assert failed.value.code == "blockhash_expired"
    swap = LiveSwap.objects.get(wallet=live_wallet)
    assert chain.block_height() > swap.last_valid_block_height
    untouched(chain, live_wallet, token)


def test_an_execute_answered_429_fails_the_trade_and_writes_nothing(
    chain, market, live_agent, live_wallet, token
):
    market.inject_fault("jupiter_ultra", status=429, count=3, path="/execute")  # every attempt

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token)

    assert failed.value.code == "rpc_rate_limited"
    assert LiveSwap.objects.get(wallet=live_wallet).status == "failed"
    chain.advance(3)  # had it gone out, it would have landed by now
    untouched(chain, live_wallet, token)


def test_an_execute_refused_before_sending_fails_the_trade_and_writes_nothing(
    chain, market, live_agent, live_wallet, token
):
    venue = venue_for(live_wallet)
    quote = venue.quote_buy(mint=token, decimals=DECIMALS, sol_amount=Decimal("0.5"))
    # Another order's requestId: Ultra refuses the transaction (-3, modified) and sends nothing.
    other = venue.quote_buy(mint=token, decimals=DECIMALS, sol_amount=Decimal("0.4"))
    mixed = replace(quote, raw={**quote.raw, "requestId": other.raw["requestId"]})

    with pytest.raises(SwapFailed) as failed:
        venue.execute(mixed, action="buy:refused")

    assert failed.value.code == "transaction_failed"
    assert LiveSwap.objects.get(action_key="buy:refused").status == "failed"
    chain.advance(3)
    untouched(chain, live_wallet, token)


def test_an_execute_whose_answer_is_lost_is_confirmed_from_the_chain_and_recorded_once(
    chain, market, live_agent, live_wallet, token
):
    # Ultra sends the swap, then every attempt's answer is lost (a gateway timeout).
    market.inject_fault("jupiter_ultra", status=504, count=3, path="/execute", after=True)

    result = buy(live_agent, live_wallet, token, key="buy:lost-answer")

    assert len(_requests(market, "/execute")) == 3  # each answered 504 after it acted
    swap = LiveSwap.objects.get(wallet=live_wallet)
    assert swap.status == "landed"
    assert result.transaction.tx_signature == swap.signature
    assert Transaction.objects.filter(wallet=live_wallet).count() == 1
    assert_chain_equals_ledger(chain, live_wallet, token)
    market.clear_recorded()

    with pytest.raises(SwapFailed) as again:
        buy(live_agent, live_wallet, token, key="buy:lost-answer")

    assert again.value.code == "action_already_executed"
    assert _requests(market, "/execute") == []
    assert LiveSwap.objects.count() == 1
    assert_chain_equals_ledger(chain, live_wallet, token)


def _crash_during_execute(market, live_wallet, token, action):
    """What a worker killed while /execute was answering leaves: a pending swap that Ultra
    sent and the chain landed, with no answer ever read."""
    quote = UltraVenue(live_wallet).quote_buy(
        mint=token, decimals=DECIMALS, sol_amount=Decimal("0.5")
    )
    market.inject_fault("jupiter_ultra", status=504, count=3, path="/execute", after=True)
    return live_ultra_send(
        wallet=live_wallet,
        action=action,
        side="buy",
        mint=token,
        decimals=DECIMALS,
        order=quote.raw,
    )


def test_a_swap_left_pending_during_execute_is_recorded_once_by_the_next_attempt(
    chain, market, live_agent, live_wallet, token
):
    swap = _crash_during_execute(market, live_wallet, token, "buy:crashed")
    assert LiveSwap.objects.get(pk=swap.pk).status == "pending"
    market.clear_recorded()

    result = buy(live_agent, live_wallet, token, key="buy:crashed")

    assert _requests(market, "/execute") == []  # the landed swap was taken, none executed
    assert result.transaction.tx_signature == swap.signature
    assert LiveSwap.objects.get(pk=swap.pk).status == "landed"
    assert LiveSwap.objects.count() == 1
    assert_chain_equals_ledger(chain, live_wallet, token)
    with pytest.raises(SwapFailed):
        buy(live_agent, live_wallet, token, key="buy:crashed")
    assert Transaction.objects.filter(wallet=live_wallet).count() == 1


def test_resolve_decides_a_swap_left_pending_during_execute_from_the_chain(
    chain, market, live_agent, live_wallet, token
):
    swap = _crash_during_execute(market, live_wallet, token, "buy:resolved")

    resolved = live_swap_resolve(swap)  # reconcile's step

    assert resolved.status == "landed"
    assert resolved.token_delta_raw > 0
    assert not Transaction.objects.filter(wallet=live_wallet).exists()  # no ledger entry yet
    market.clear_recorded()
    buy(live_agent, live_wallet, token, key="buy:resolved")
    assert _requests(market, "/execute") == []
    assert Transaction.objects.filter(wallet=live_wallet).count() == 1
    assert_chain_equals_ledger(chain, live_wallet, token)


def test_a_retried_action_finds_its_landed_swap_and_never_executes_twice(
    chain, market, live_agent, live_wallet, token
):
    buy(live_agent, live_wallet, token, key="buy:retried")
    position = Position.objects.get(wallet=live_wallet)
    position_close(position_id=position.pk, reason=CloseReason.MANUAL)  # the token is free again
    market.clear_recorded()

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token, key="buy:retried")

    assert failed.value.code == "action_already_executed"
    assert _requests(market, "/execute") == []
    assert LiveSwap.objects.filter(action_key="buy:retried").count() == 1
    assert_chain_equals_ledger(chain, live_wallet, token)


def test_a_stop_loss_that_slips_leaves_the_position_open_and_the_next_tick_sells(
    chain, live_agent, live_wallet, token
):
    from trading.tasks import position_exit

    position = buy(live_agent, live_wallet, token).position
    before = (ledger(live_wallet, WSOL), ledger(live_wallet, token))
    chain.inject_slippage()

    position_exit(position.pk, CloseReason.STOP_LOSS, str(position.remaining_amount))

    assert Position.objects.get(pk=position.pk).status == PositionStatus.OPEN
    failed = LiveSwap.objects.get(action_key=f"close:{position.pk}")
    assert (failed.status, failed.reason) == ("failed", "slippage_exceeded")
    fee = money.lamports_to_sol(failed.fee_lamports)
    # Only the fee the failed sale paid on chain is written (a FEE entry); the tokens stay.
    assert (ledger(live_wallet, WSOL), ledger(live_wallet, token)) == (before[0] - fee, before[1])

    position_exit(position.pk, CloseReason.STOP_LOSS, str(position.remaining_amount))

    assert Position.objects.get(pk=position.pk).status == PositionStatus.CLOSED
    assert ledger(live_wallet, token) == chain_tokens(chain, live_wallet, token) == 0
    assert_chain_equals_ledger(chain, live_wallet, token)
