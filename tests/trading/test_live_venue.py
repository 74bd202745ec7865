"""A live agent trading on localnet's real SVM: Jupiter Metis swaps signed with the wallet's
key, sent and confirmed over the real RPC contract. After each trade the wallet's on-chain SOL
and token deltas equal the ledger's; each way a swap fails leaves the ledger as it was; a
retry, or the first attempt after a crash between send and confirm, never swaps twice."""

from decimal import Decimal

import pytest

from localnet.svm import BLOCKHASH_VALIDITY
from nexgent import money
from signals_app.models import SignalExecution
from signals_app.services import signal_create
from signals_app.tasks import signal_received
from tests.trading.live_support import (
    DECIMALS,
    FUNDED_LAMPORTS,
    WSOL,
    assert_chain_equals_ledger,
    buy,
    chain_sol,
    chain_tokens,
    ledger,
    untouched,
)
from trading.live import SwapFailed, live_swap_resolve, live_swap_send
from trading.models import (
    CloseReason,
    LiveSwap,
    Position,
    PositionStatus,
    Transaction,
)
from trading.reconcile_services import wallet_reconcile
from trading.services import position_close
from trading.venues import JupiterVenue, venue_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_live_wallet_gets_the_jupiter_venue(live_wallet):
    assert isinstance(venue_for(live_wallet), JupiterVenue)


def test_a_live_agent_buys_on_a_signal_and_the_chain_equals_the_ledger(
    chain, market, user, live_agent, live_wallet, token
):
    signal, _ = signal_create(
        owner=user, token_address=token, symbol="LIVE", signal_type="BUY", signal_strength=5
    )
    signal_received(signal)

    execution = SignalExecution.objects.get(signal=signal, agent=live_agent)
    assert execution.status == "executed", (execution.reason, execution.error)
    entry = Transaction.objects.get(wallet=live_wallet)
    swap = LiveSwap.objects.get(wallet=live_wallet)
    assert swap.status == "landed"
    assert entry.tx_signature == swap.signature
    assert entry.idempotency_key == swap.action_key == f"buy:{signal.pk}:{live_agent.pk}"
    # The ledger moved exactly what the chain moved: SOL out (swap, fees, token account rent)
    # and tokens in.
    assert_chain_equals_ledger(chain, live_wallet, token)
    position = Position.objects.get(wallet=live_wallet)
    assert position.remaining_amount == chain_tokens(chain, live_wallet, token) > 0
    spent = Decimal(10) - chain_sol(chain, live_wallet)
    assert position.total_invested_sol == spent
    assert entry.network_fee_sol == spent - money.lamports_to_sol(int(swap.quoted_in_raw))


def test_a_stop_loss_sale_sells_on_chain_with_the_wider_slippage(
    chain, market, settings, live_agent, live_wallet, token
):
    settings.SWAP_SLIPPAGE_BPS = 100
    settings.SWAP_SLIPPAGE_BPS_STOP_LOSS = 700
    bought = buy(live_agent, live_wallet, token)
    market.clear_recorded()

    trade = position_close(position_id=bought.position.pk, reason=CloseReason.STOP_LOSS)

    assert trade is not None
    (quote,) = [r for r in market.recorded("jupiter_quote") if r.path.endswith("/quote")]
    assert quote.query["slippageBps"] == ["700"]
    assert quote.query["inputMint"] == [token]
    assert_chain_equals_ledger(chain, live_wallet, token)
    assert ledger(live_wallet, token) == 0
    sale = Transaction.objects.get(idempotency_key=f"close:{bought.position.pk}")
    assert LiveSwap.objects.get(signature=sale.tx_signature).side == "sell"
    assert Position.objects.get(pk=bought.position.pk).status == PositionStatus.CLOSED


def test_a_buy_quotes_with_the_ordinary_slippage(
    chain, market, settings, live_agent, live_wallet, token
):
    settings.SWAP_SLIPPAGE_BPS = 100
    settings.SWAP_SLIPPAGE_BPS_STOP_LOSS = 700
    market.clear_recorded()

    buy(live_agent, live_wallet, token)

    (quote,) = [r for r in market.recorded("jupiter_quote") if r.path.endswith("/quote")]
    assert quote.query["slippageBps"] == ["100"]


def test_a_swap_that_slips_on_chain_fails_and_only_its_fee_is_written(
    chain, live_agent, live_wallet, token
):
    chain.inject_slippage()

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token)

    assert failed.value.code == "slippage_exceeded"
    swap = LiveSwap.objects.get(wallet=live_wallet)
    assert (swap.status, swap.reason) == ("failed", "slippage_exceeded")
    # It landed and failed: nothing of the trade is written, but the fee the chain charged left
    # the wallet, and reconcile (queued at the failure) writes it as a FEE entry.
    fee = swap.fee_lamports
    assert fee > 0 and swap.sol_delta_lamports == -fee
    (entry,) = Transaction.objects.filter(wallet=live_wallet)
    assert (entry.type, entry.input_mint, entry.input_amount) == (
        "FEE",
        WSOL,
        money.lamports_to_sol(fee),
    )
    assert (entry.tx_signature, entry.position, entry.idempotency_key) == (
        swap.signature,
        None,
        f"fee:{swap.signature}",
    )
    assert not Position.objects.filter(wallet=live_wallet).exists()
    assert_chain_equals_ledger(chain, live_wallet, token)
    assert chain_sol(chain, live_wallet) == money.lamports_to_sol(FUNDED_LAMPORTS - fee)

    wallet_reconcile(wallet=live_wallet)  # the next run finds it written: never twice
    assert Transaction.objects.filter(wallet=live_wallet).count() == 1


def test_a_swap_that_never_lands_expires_and_writes_nothing(chain, live_agent, live_wallet, token):
    chain.inject_never_lands()

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token)

    assert failed.value.code == "blockhash_expired"
    swap = LiveSwap.objects.get(wallet=live_wallet)
    assert chain.block_height() > swap.last_valid_block_height
    untouched(chain, live_wallet, token)


@pytest.mark.parametrize(
    ("err", "reason"),
    [
        (None, "slippage_exceeded"),  # localnet's default: Jupiter's 6001 in instruction 3
        ("InsufficientFundsForFee", "insufficient_funds"),
        ("BlockhashNotFound", "blockhash_expired"),
    ],
)
def test_a_preflight_failure_is_refused_before_anything_lands(
    chain, live_agent, live_wallet, token, err, reason
):
    chain.inject_preflight_failure(err=err)

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token)

    assert failed.value.code == reason
    assert LiveSwap.objects.get(wallet=live_wallet).status == "failed"
    untouched(chain, live_wallet, token)


def test_an_rpc_that_answers_429_fails_the_trade_and_writes_nothing(
    chain, market, live_agent, live_wallet, token
):
    market.inject_fault("solana_rpc", status=429, count=3)  # every attempt of the send

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token)

    assert failed.value.code == "rpc_rate_limited"
    chain.advance(BLOCKHASH_VALIDITY + 2)  # had it gone out, it would have landed by now
    untouched(chain, live_wallet, token)


def test_a_jupiter_swap_429_fails_before_anything_is_signed(
    chain, market, live_agent, live_wallet, token
):
    market.inject_fault("jupiter_swap", status=429, count=3)

    with pytest.raises(Exception, match="HTTP 429"):
        buy(live_agent, live_wallet, token)

    assert not LiveSwap.objects.exists()
    untouched(chain, live_wallet, token)


def test_a_retried_action_finds_its_landed_swap_and_never_sends_twice(
    chain, market, live_agent, live_wallet, token
):
    buy(live_agent, live_wallet, token, key="buy:retried")
    market.clear_recorded()
    position = Position.objects.get(wallet=live_wallet)
    position_close(position_id=position.pk, reason=CloseReason.MANUAL)  # the token is free again
    market.clear_recorded()

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token, key="buy:retried")

    assert failed.value.code == "action_already_executed"
    assert market.recorded("jupiter_swap") == []  # no second transaction even built
    assert LiveSwap.objects.filter(action_key="buy:retried").count() == 1
    assert_chain_equals_ledger(chain, live_wallet, token)


def _crash_after_send(chain, live_wallet, token, action):
    """What a worker killed between send and confirm leaves: a pending swap, sent."""
    quote = JupiterVenue(live_wallet).quote_buy(
        mint=token, decimals=DECIMALS, sol_amount=Decimal("0.5")
    )
    return live_swap_send(
        wallet=live_wallet,
        action=action,
        side="buy",
        mint=token,
        decimals=DECIMALS,
        quote=quote.raw,
    )


def test_a_swap_left_pending_by_a_crash_is_recorded_once_by_the_next_attempt(
    chain, market, live_agent, live_wallet, token
):
    swap = _crash_after_send(chain, live_wallet, token, "buy:crashed")
    assert LiveSwap.objects.get(pk=swap.pk).status == "pending"
    market.clear_recorded()

    result = buy(live_agent, live_wallet, token, key="buy:crashed")

    assert market.recorded("jupiter_swap") == []  # the landed swap was taken, none built
    assert result.transaction.tx_signature == swap.signature
    assert LiveSwap.objects.get(pk=swap.pk).status == "landed"
    assert LiveSwap.objects.count() == 1
    assert_chain_equals_ledger(chain, live_wallet, token)
    with pytest.raises(SwapFailed):
        buy(live_agent, live_wallet, token, key="buy:crashed")
    assert Transaction.objects.filter(wallet=live_wallet).count() == 1


def test_resolving_a_pending_swap_that_never_landed_fails_it_once_expired(
    chain, live_wallet, token
):
    chain.inject_never_lands()
    swap = _crash_after_send(chain, live_wallet, token, "buy:lost")

    assert live_swap_resolve(swap).status == "pending"  # it may still land: left alone
    chain.advance(BLOCKHASH_VALIDITY + 2)
    resolved = live_swap_resolve(LiveSwap.objects.get(pk=swap.pk))

    assert (resolved.status, resolved.reason) == ("failed", "blockhash_expired")
    assert live_swap_resolve(resolved).resolved_at == resolved.resolved_at  # decided once
    untouched(chain, live_wallet, token)


def test_a_new_swap_waits_while_an_earlier_one_can_still_land(
    chain, market, live_agent, live_wallet, token
):
    chain.inject_never_lands()
    _crash_after_send(chain, live_wallet, token, "buy:first")
    market.clear_recorded()

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token, key="buy:second")

    assert failed.value.code == "swap_in_flight"
    assert market.recorded("jupiter_swap") == []
    untouched(chain, live_wallet, token)


def test_a_failed_exit_leaves_the_position_open_and_the_next_attempt_sells(
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
    assert_chain_equals_ledger(chain, live_wallet, token)

    position_exit(position.pk, CloseReason.STOP_LOSS, str(position.remaining_amount))  # next tick

    assert Position.objects.get(pk=position.pk).status == PositionStatus.CLOSED
    assert LiveSwap.objects.filter(action_key=f"close:{position.pk}", status="landed").count() == 1
    assert ledger(live_wallet, token) == chain_tokens(chain, live_wallet, token) == 0
    assert_chain_equals_ledger(chain, live_wallet, token)


def test_an_rpc_that_times_out_fails_the_trade_unconfirmed_and_the_next_attempt_records_once(
    chain, market, settings, live_agent, live_wallet, token
):
    settings.HTTP_TIMEOUT_SECONDS = Decimal("0.2")
    settings.LIVE_CONFIRM_TIMEOUT_SECONDS = Decimal("1")
    market.inject_delay("solana_rpc", 0.5, count=1000)  # every RPC call outlasts the timeout

    with pytest.raises(SwapFailed) as failed:
        buy(live_agent, live_wallet, token, key="buy:timed-out")

    # The send may have reached the cluster: the swap stays pending, nothing is in the ledger.
    assert failed.value.code == "swap_unconfirmed"
    swap = LiveSwap.objects.get(wallet=live_wallet)
    assert swap.status == "pending"
    assert not Transaction.objects.filter(wallet=live_wallet).exists()
    assert ledger(live_wallet, WSOL) == Decimal(10)

    market.clear_faults("solana_rpc")
    buy(live_agent, live_wallet, token, key="buy:timed-out")

    assert LiveSwap.objects.filter(status="landed").count() == 1
    assert Transaction.objects.filter(wallet=live_wallet).count() == 1
    assert_chain_equals_ledger(chain, live_wallet, token)


def test_the_admin_shows_live_swaps_read_only(chain, client, django_user_model, live_wallet, token):
    chain.inject_never_lands()
    swap = _crash_after_send(chain, live_wallet, token, "buy:shown")
    admin = django_user_model.objects.create_superuser(email="root@example.com", password="pw-1")
    client.force_login(admin)

    listing = client.get("/admin/trading/liveswap/")
    page = client.get(f"/admin/trading/liveswap/{swap.pk}/change/")

    assert listing.status_code == page.status_code == 200
    assert swap.signature in listing.content.decode()
    assert "signed_transaction" not in page.content.decode()


def test_reconcile_resolves_a_pending_swap_and_takes_no_deposit_while_it_is_unrecorded(
    chain, live_agent, live_wallet, token
):
    swap = _crash_after_send(chain, live_wallet, token, "buy:crashed-before-reconcile")
    chain.advance(3)
    deposits_before = Transaction.objects.filter(wallet=live_wallet, type="DEPOSIT").count()

    outcome = wallet_reconcile(wallet=live_wallet)

    # The swap is decided from the chain; its SOL left the wallet but the ledger has no entry
    # yet, so the gap is drift, never a deposit or a withdrawal written by reconcile.
    assert LiveSwap.objects.get(pk=swap.pk).status == "landed"
    assert outcome.deposit is None
    assert Transaction.objects.filter(wallet=live_wallet, type="DEPOSIT").count() == deposits_before
    assert outcome.result.has_drift is True

    # The action's next attempt records the landed swap; the next reconcile finds them equal.
    buy(live_agent, live_wallet, token, key="buy:crashed-before-reconcile")
    assert wallet_reconcile(wallet=live_wallet).result.has_drift is False


def test_a_live_trade_is_reconciled_right_after_it_commits(
    chain, live_agent, live_wallet, token, settings
):
    from wallets.models import WalletReconcile

    settings.TASK_MODE = "eager"
    assert not WalletReconcile.objects.filter(wallet=live_wallet).exists()

    buy(live_agent, live_wallet, token)

    result = WalletReconcile.objects.get(wallet=live_wallet)
    assert result.has_drift is False and not result.error
