"""A live agent's whole position on localnet's real SVM, driven by signals and the price tick:
it buys on a signal, DCAs at the drop, takes profit partially and is stopped out, and after
each step the wallet's on-chain SOL and tokens equal the ledger. Beside each live swap its
paper twin (the simulated venue's fill of the same quote) is kept and compared: the shadow
report and trades in the API."""

from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from agents.services import agent_create
from nexgent import money
from signals_app.models import SignalExecution
from signals_app.services import signal_create
from signals_app.tasks import signal_received
from tests.trading.live_support import (
    DECIMALS,
    WSOL,
    assert_chain_equals_ledger,
    chain_tokens,
    ledger,
)
from trading.live import SwapFailed
from trading.models import ClosedTrade, LiveSwap, Position, PositionStatus, Transaction
from trading.services import position_buy, position_dca_buy
from trading.tasks import price_poll
from trading.venues import SimulatedVenue, venue_for

pytestmark = pytest.mark.django_db(transaction=True)

# The live fixtures (chain, token, live_wallet) are tests/trading/conftest.py's.

LIFECYCLE_CONFIG = {
    "stop_loss": {"enabled": True, "mode": "fixed", "default_percentage": -32},
    "take_profit": {"enabled": True, "mode": "moderate"},
    "dca": {"enabled": True, "mode": "moderate", "cooldown_seconds": 10, "max_dca_count": 1},
    "stale_trade": {"enabled": False},
}


@pytest.fixture
def live_agent(user):
    return agent_create(
        owner=user,
        name="Live cycle",
        trading_mode="live",
        automated_trading_live=True,
        config=LIFECYCLE_CONFIG,
    )


def _position(wallet) -> Position:
    return Position.objects.get(wallet=wallet)


def test_buy_dca_take_profit_and_stop_out_keep_the_chain_equal_to_the_ledger(
    chain, market, user, live_agent, live_wallet, token, api_client
):
    signal, _ = signal_create(
        owner=user, token_address=token, symbol="LIVE", signal_type="BUY", signal_strength=5
    )
    signal_received(signal)
    execution = SignalExecution.objects.get(signal=signal, agent=live_agent)
    assert execution.status == "executed", (execution.reason, execution.error)
    assert_chain_equals_ledger(chain, live_wallet, token)
    entry = _position(live_wallet).purchase_price

    market.set_price(token, entry * Decimal("0.78"))  # -22%: DCA level 1 is -20%
    price_poll()
    position = _position(live_wallet)
    assert position.dca_count == 1
    assert_chain_equals_ledger(chain, live_wallet, token)

    market.set_price(token, position.purchase_price * Decimal("1.6"))  # past +50%
    price_poll()
    position = _position(live_wallet)
    assert position.take_profit_levels_hit == 1
    assert 0 < position.remaining_amount < position.total_tokens_bought
    assert_chain_equals_ledger(chain, live_wallet, token)

    market.set_price(token, position.purchase_price * Decimal("0.5"))  # far below the stop
    price_poll()
    position = _position(live_wallet)
    assert position.status == PositionStatus.CLOSED
    assert position.close_reason in ("stop_loss", "trailing_stop")
    assert_chain_equals_ledger(chain, live_wallet, token)
    assert chain_tokens(chain, live_wallet, token) == 0

    swaps = list(LiveSwap.objects.filter(wallet=live_wallet).order_by("id"))
    assert [s.side for s in swaps] == ["buy", "buy", "sell", "sell"]
    assert all(s.status == "landed" for s in swaps)
    # Every live swap is one ledger entry of the same signature, and nothing else traded.
    assert sorted(
        Transaction.objects.filter(wallet=live_wallet).values_list("tx_signature", flat=True)
    ) == sorted(s.signature for s in swaps)

    api_client.force_authenticate(user)
    report = api_client.get(f"/api/v1/agents/{live_agent.pk}/shadow").json()
    assert (report["swaps"], report["landed"], report["pending"]) == (4, 4, 0)
    (closed,) = report["closed_positions"]
    trade = ClosedTrade.objects.get(position=position)
    # The live P/L the twin computes from the chain's amounts is the ledger's own.
    assert Decimal(closed["live_pnl_sol"]) == trade.profit_loss_sol
    assert Decimal(closed["gap_sol"]) == Decimal(closed["live_pnl_sol"]) - Decimal(
        closed["paper_pnl_sol"]
    )
    assert report["pnl_gap_sol"] == closed["gap_sol"]


def test_each_live_swap_keeps_the_paper_fill_of_its_quote_beside_the_real_one(
    chain, market, user, live_agent, live_wallet, token, api_client
):
    venue = venue_for(live_wallet)
    quote = venue.quote_buy(mint=token, decimals=DECIMALS, sol_amount=Decimal("0.5"))
    paper = SimulatedVenue().execute(quote, action="paper")
    # The price rises 1% between the quote and the swap: the swap delivers fewer tokens than
    # quoted (within the slippage bound); paper fills at the quote.
    market.set_price(token, market.price_sol(token) * Decimal("1.01"))

    fill = venue.execute(quote, action="buy:manual:shadow")

    swap = LiveSwap.objects.get(signature=fill.tx_signature)
    assert (swap.paper_sol_amount, swap.paper_token_amount) == (
        paper.sol_amount,
        paper.token_amount,
    )
    assert swap.paper_fee_sol == paper.protocol_fee_sol + paper.network_fee_sol
    assert 0 < fill.token_amount < paper.token_amount == money.raw_to_ui(quote.out_raw, DECIMALS)
    on_chain = chain_tokens(chain, live_wallet, token)
    assert fill.token_amount == on_chain

    api_client.force_authenticate(user)
    (shown,) = api_client.get(f"/api/v1/agents/{live_agent.pk}/shadow/trades").json()["trades"]
    assert shown["signature"] == swap.signature
    assert (shown["side"], shown["status"], shown["action"]) == (
        "buy",
        "landed",
        "buy:manual:shadow",
    )
    assert Decimal(shown["quoted"]["tokens"]) == paper.token_amount
    assert Decimal(shown["paper"]["tokens"]) == paper.token_amount
    assert Decimal(shown["live"]["tokens"]) == on_chain
    spent = Decimal(10) - money.lamports_to_sol(
        chain.balance(Pubkey.from_string(live_wallet.address))
    )
    assert Decimal(shown["live"]["sol"]) + Decimal(shown["live"]["fees_sol"]) == spent
    expected_bps = (paper.token_amount - on_chain) * 10_000 / paper.token_amount
    assert abs(Decimal(shown["slippage_bps"]) - expected_bps) < Decimal("1e-9")
    assert Decimal(shown["slippage_bps"]) > 90  # about 1%: 1 - 1/1.01
    assert shown["landing_ms"] >= 0
    assert Decimal(shown["fee_gap_sol"]) == Decimal(shown["live"]["fees_sol"]) - swap.paper_fee_sol


def test_a_failed_live_swap_shows_its_reason_and_the_fill_paper_would_have_had(
    chain, user, live_agent, live_wallet, token, api_client
):
    chain.inject_slippage()
    venue = venue_for(live_wallet)
    quote = venue.quote_buy(mint=token, decimals=DECIMALS, sol_amount=Decimal("0.5"))
    with pytest.raises(Exception, match="failed"):
        venue.execute(quote, action="buy:manual:slips")

    api_client.force_authenticate(user)
    (shown,) = api_client.get(f"/api/v1/agents/{live_agent.pk}/shadow/trades").json()["trades"]
    assert (shown["status"], shown["reason"]) == ("failed", "slippage_exceeded")
    assert Decimal(shown["paper"]["tokens"]) == money.raw_to_ui(quote.out_raw, DECIMALS)
    # It landed and failed: the chain moved nothing but the fee.
    assert shown["live"]["sol"] == shown["live"]["tokens"] == "0"
    assert Decimal(shown["live"]["fees_sol"]) > 0
    assert shown["slippage_bps"] is None
    report = api_client.get(f"/api/v1/agents/{live_agent.pk}/shadow").json()
    assert report["failed_by_reason"] == {"slippage_exceeded": 1}
    assert (report["landed"], report["closed_positions"], report["pnl_gap_sol"]) == (0, [], "0")
    assert ledger(live_wallet, WSOL) == Decimal(10)


def test_the_shadow_report_is_the_owners_alone(other_user, live_agent, api_client):
    api_client.force_authenticate(other_user)
    assert api_client.get(f"/api/v1/agents/{live_agent.pk}/shadow").status_code == 404
    assert api_client.get(f"/api/v1/agents/{live_agent.pk}/shadow/trades").status_code == 404


def test_bad_paging_is_a_400_naming_the_field(user, live_agent, api_client):
    api_client.force_authenticate(user)
    response = api_client.get(f"/api/v1/agents/{live_agent.pk}/shadow/trades?offset=-1")
    assert response.status_code == 400
    assert "offset" in str(response.json())


def test_a_buy_the_ledger_cannot_cover_with_its_fees_is_never_sent(
    chain, market, live_agent, live_wallet, token
):
    venue = venue_for(live_wallet)
    reserve = Decimal(10) - venue.spendable(Decimal(10))
    quote = venue.quote_buy(mint=token, decimals=DECIMALS, sol_amount=Decimal(10) - reserve / 2)
    market.clear_recorded()

    with pytest.raises(SwapFailed) as refused:
        venue.execute(quote, action="buy:manual:too-big")

    assert refused.value.code == "insufficient_funds"
    assert not LiveSwap.objects.exists()
    assert not market.recorded("jupiter_swap")
    assert ledger(live_wallet, WSOL) == Decimal(10)


def test_a_live_dca_shrinks_to_what_the_ledger_covers_and_the_chain_still_equals_it(
    chain, market, user, live_agent, live_wallet, token
):
    bought = position_buy(
        agent=live_agent,
        wallet=live_wallet,
        token_address=token,
        token_symbol="LIVE",
        sol_amount=Decimal("9"),
        decimals=DECIMALS,
        idempotency_key="buy:manual:big",
    )
    position = bought.position
    left = ledger(live_wallet, WSOL)
    assert left < 1  # the DCA level wants 75% of the position's value: far more than this

    entry = position_dca_buy(
        position_id=position.pk,
        sol_amount=Decimal("5"),
        expected_dca_count=0,
        take_profit_levels=4,
    )

    assert entry is not None and entry.is_dca
    assert_chain_equals_ledger(chain, live_wallet, token)
    # What is left is at most the reserve for the fees and rent a live swap may cost.
    assert 0 <= ledger(live_wallet, WSOL) <= left - venue_for(live_wallet).spendable(left)


def test_the_agent_page_shows_the_live_swaps_and_the_reconcile_state(
    chain, client, user, live_agent, live_wallet, token
):
    client.force_login(user)
    page = client.get(f"/agents/{live_agent.pk}/").content.decode()
    assert 'id="live-wallet"' in page and "not reconciled yet" in page
    assert "No live swaps yet." in page

    fill = position_buy(
        agent=live_agent,
        wallet=live_wallet,
        token_address=token,
        token_symbol="LIVE",
        sol_amount=Decimal("0.5"),
        decimals=DECIMALS,
        idempotency_key="buy:manual:page",
    ).transaction
    page = client.get(f"/agents/{live_agent.pk}/").content.decode()

    # The buy's reconcile ran right after it committed (tasks run inline here).
    assert f'data-signature="{fill.tx_signature}"' in page
    assert "chain = ledger" in page
    assert "landed" in page


def test_a_simulation_agent_page_has_no_live_wallet_section(client, user, agent):
    client.force_login(user)
    page = client.get(f"/agents/{agent.pk}/").content.decode()
    assert 'id="live-wallet"' not in page
