"""The executor: every write to the trading ledger.

Each trade is ONE database transaction that writes the ledger entry, its balance changes and
the position change; a refusal writes nothing. Swaps (HTTP, possibly on-chain) happen before
the transaction opens, never while a row lock is held. Events go out after commit, a trade's
together (`realtime.batched`: one trip to the channel layer, not one per event). A position
is sold at most once: the sale re-reads the position under a row lock and proceeds only if it
is still open with exactly the amount that was quoted, and every ledger entry carries a unique
idempotency key naming the action.
"""

import logging
import os
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from agents.config import agent_rules
from agents.models import Agent
from nexgent import money, realtime
from prices.services import sol_usd_current, token_decimals
from trading import selectors
from trading.ledger_services import SOL, Leg, TradeRefused, ledger_write, reconcile_soon
from trading.live import SwapFailed
from trading.models import (
    ClosedTrade,
    CloseReason,
    LiveSwap,
    LiveSwapStatus,
    Position,
    PositionStatus,
    Transaction,
    TransactionType,
)
from trading.notifications import (
    live_trade_failed_notify,
    trade_closed_notify,
    trade_opened_notify,
)
from trading.risk_services import BuyBlock, kill_switch_block
from trading.rules.dca import average_after_buy
from trading.rules.pnl import full_close_pnl, partial_sale_pnl
from trading.rules.sizing import impact_ladder, impact_ok, position_size
from trading.rules.take_profit import reset_after_dca
from trading.selectors import position_payload
from trading.snapshot_services import balance_snapshots_record
from trading.venues import Fill, Quote, Venue, venue_for
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)


class BuyBlocked(TradeRefused):
    """A guard stops the buy (the kill switch): its reason is the code, its figures `block`."""

    def __init__(self, block: BuyBlock):
        super().__init__(f"buy refused: {block.reason}", code=block.reason)
        self.block = block


@dataclass(frozen=True, slots=True)
class BuyResult:
    position: Position
    transaction: Transaction


def _now() -> datetime:
    return datetime.now(UTC)


# --- Buy ----------------------------------------------------------------------------------------


@realtime.batched()
def position_buy(
    *,
    agent: Agent,
    wallet: AgentWallet,
    token_address: str,
    token_symbol: str = "",
    sol_amount: Decimal | None = None,
    sol_balance: Decimal | None = None,
    stop_loss_percent: Decimal | None = None,
    decimals: int | None = None,
    signal_id: int | None = None,
    idempotency_key: str | None = None,
    record_with: Callable[[BuyResult], None] | None = None,
    venue: Venue | None = None,
) -> BuyResult:
    """Buy a token for the agent and open a position.

    `sol_amount` None sizes the buy by the agent's rules from its SOL balance, and shrinks it
    down the price-impact ladder until a quote's impact is under the agent's limit
    (trading-rules.md section 3); an explicit amount is bought as it is. `sol_balance`: the
    balance to size on when the caller has just read it (None: read now). `stop_loss_percent`
    None is the agent's default stop. `decimals`: the token's, if the caller knows them.
    `record_with` runs inside the buy's transaction once its rows are written (a signal records
    its execution there): if it raises, nothing of the buy is written.

    purchase price = SOL swapped / tokens received (fees excluded); invested = SOL debited
    (swap + protocol fee + network fee). The kill switch is read inside the transaction: a
    switch thrown while the swap was quoted still stops the buy.
    """
    rules = agent_rules(agent.config)
    venue = venue or venue_for(wallet)
    if decimals is None:
        decimals = token_decimals(token_address)
    if sol_amount is None:
        if sol_balance is None:
            sol_balance = selectors.sol_balance(wallet.pk)
        quote = _sized_quote(rules, venue, sol_balance, token_address, decimals)
    else:
        quote = venue.quote_buy(mint=token_address, decimals=decimals, sol_amount=sol_amount)
    # A buy without a key of its caller's is an action of its own: a live venue still needs a
    # name for it (a retry of such a call is a new buy, as it always was).
    fill = _swap(
        venue, quote, wallet=wallet, action=idempotency_key or f"buy:{wallet.pk}:{uuid.uuid4().hex}"
    )
    if fill.token_amount <= 0:
        raise TradeRefused(f"the swap delivered {fill.token_amount} tokens", code="invalid_fill")
    if stop_loss_percent is None:
        stop_loss_percent = rules.stop_loss.default_percentage
    sol_usd = sol_usd_current()
    try:
        with transaction.atomic():
            _buys_allowed()
            result = _record_buy(
                agent=agent,
                wallet=wallet,
                token_address=token_address,
                token_symbol=token_symbol,
                decimals=decimals,
                fill=fill,
                stop_loss_percent=stop_loss_percent,
                signal_id=signal_id,
                idempotency_key=idempotency_key,
                sol_usd=sol_usd,
            )
            if record_with is not None:
                record_with(result)
    except IntegrityError as exc:
        # The partial unique index (one open position per token) or the idempotency key: a
        # concurrent buy got there first. Nothing of this one was written.
        raise TradeRefused(
            "a position in this token is already open (or this buy already ran)",
            code="position_exists",
        ) from exc
    return result


def _sized_quote(rules, venue: Venue, sol_balance: Decimal, token_address: str, decimals: int):
    size = position_size(rules.sizing, rules.purchase_limits, sol_balance, rng=_sizes_random())
    limit = rules.purchase_limits.max_price_impact
    for candidate in impact_ladder(size.size_sol):
        quote = venue.quote_buy(mint=token_address, decimals=decimals, sol_amount=candidate)
        if impact_ok(quote.price_impact, limit):
            return quote
    raise TradeRefused(
        "price impact above max_price_impact at every size", code="price_impact_too_high"
    )


_sizes = threading.local()


def _sizes_random() -> random.Random:
    """This thread's generator for randomized sizes: seeded from the system once, not on every
    buy, and again in a forked child, which would otherwise draw the same sizes as its parent
    and its siblings."""
    if getattr(_sizes, "pid", None) != os.getpid():
        _sizes.rng, _sizes.pid = random.Random(), os.getpid()
    return _sizes.rng


def _buys_allowed() -> None:
    block = kill_switch_block()
    if block is not None:
        raise BuyBlocked(block)


def _swap(venue: Venue, quote: Quote, *, wallet: AgentWallet, action: str) -> Fill:
    """The venue's fill of the quote. A live swap that failed on chain paid its fee: the
    wallet is reconciled soon, which writes that fee to the ledger (live_swap_fees_record)."""
    try:
        return venue.execute(quote, action=action)
    except SwapFailed as failed:
        paid = LiveSwap.objects.filter(
            wallet=wallet, action_key=action, status=LiveSwapStatus.FAILED, sol_delta_lamports__lt=0
        )
        if paid.exists():
            reconcile_soon(wallet.pk)
        live_trade_failed_notify(
            owner_id=wallet.owner_id,
            agent_id=wallet.agent_id,
            side=quote.side,
            mint=quote.mint,
            action=action,
            failed=failed,
        )
        raise


def _record_buy(
    *,
    agent,
    wallet,
    token_address,
    token_symbol,
    decimals,
    fill,
    stop_loss_percent,
    signal_id,
    idempotency_key,
    sol_usd,
) -> BuyResult:
    debit = money.amount(fill.sol_amount + fill.protocol_fee_sol + fill.network_fee_sol)
    now = _now()
    position = Position(
        agent=agent,
        wallet=wallet,
        signal_id=signal_id,
        token_address=token_address,
        token_symbol=token_symbol,
        token_decimals=decimals,
        purchase_price=fill.price,
        total_invested_sol=debit,
        total_tokens_bought=fill.token_amount,
        remaining_amount=fill.token_amount,
        peak_price=fill.price,
        lowest_price=fill.price,
        stop_loss_percent=money.percent(stop_loss_percent),
        opened_at=now,
    )
    entry = ledger_write(
        wallet=wallet,
        kind=TransactionType.SWAP,
        spent=Leg(SOL, "SOL", debit),
        received=Leg(token_address, token_symbol, fill.token_amount),
        position=position,
        fill=fill,
        now=now,
        sol_usd=sol_usd,
        signal_id=signal_id,
        idempotency_key=idempotency_key,
    )
    realtime.position_update(
        agent.pk, "position_created", position_payload(position, position.purchase_price)
    )
    trade_opened_notify(owner_id=agent.owner_id, position=position, mode=wallet.mode)
    return BuyResult(position, entry)


# --- Full sale ------------------------------------------------------------------------------------


@realtime.batched()
def position_close(
    *,
    position_id: int,
    reason: str,
    expected_remaining: Decimal | None = None,
    venue: Venue | None = None,
) -> ClosedTrade | None:
    """Sell everything the position still holds (moon bag included) and record the closed trade.

    Returns None, writing nothing, when the position is no longer open or no longer holds what
    the caller decided on (another tick, worker or retry already acted).
    """
    position = Position.objects.select_related("wallet").get(pk=position_id)
    if position.status != PositionStatus.OPEN:
        return None
    amount = position.remaining_amount
    if expected_remaining is not None and amount != expected_remaining:
        return None
    fill = _sell(
        position, amount, venue, action=f"close:{position.pk}", slippage_bps=_exit_slippage(reason)
    )
    now, sol_usd = _now(), sol_usd_current()
    with transaction.atomic():
        position = _locked_if(position_id, remaining_amount=amount)
        if position is None:
            return None
        net = _net_proceeds(fill)
        _record_sale(
            position,
            amount=amount,
            net=net,
            fill=fill,
            now=now,
            sol_usd=sol_usd,
            idempotency_key=f"close:{position.pk}",
        )
        return _close_position(
            position,
            received_now=net,
            sale_price=fill.price,
            reason=reason,
            sol_usd=sol_usd,
            now=now,
        )


def _exit_slippage(reason: str) -> int | None:
    """A stop-loss sale accepts more slippage than a buy: refused, it would leave the position
    open while the price falls further (None: the venue's default)."""
    return settings.SWAP_SLIPPAGE_BPS_STOP_LOSS if reason == CloseReason.STOP_LOSS else None


def _sell(
    position: Position,
    amount: Decimal,
    venue: Venue | None,
    *,
    action: str,
    slippage_bps: int | None = None,
) -> Fill:
    venue = venue or venue_for(position.wallet)
    quote = venue.quote_sell(
        mint=position.token_address,
        decimals=position.token_decimals,
        token_amount=amount,
        slippage_bps=slippage_bps,
    )
    return _swap(venue, quote, wallet=position.wallet, action=action)


def _locked_if(position_id: int, **expected) -> Position | None:
    """The position, locked, if it is still open and holds the `expected` field values: the
    state the caller decided on. None when another action got there first."""
    position = Position.objects.select_for_update().select_related("wallet").get(pk=position_id)
    if position.status != PositionStatus.OPEN:
        return None
    if any(getattr(position, name) != value for name, value in expected.items()):
        return None
    return position


def _net_proceeds(fill: Fill) -> Decimal:
    """SOL credited for a sale: SOL out - protocol fee - network fee."""
    return money.amount(fill.sol_amount - fill.protocol_fee_sol - fill.network_fee_sol)


def _record_sale(
    position: Position,
    *,
    amount: Decimal,
    net: Decimal,
    fill: Fill,
    now: datetime,
    **entry,
) -> Transaction:
    """The sale's ledger entry, inside the caller's transaction with the position locked."""
    return ledger_write(
        wallet=position.wallet,
        kind=TransactionType.SWAP,
        spent=Leg(position.token_address, position.token_symbol, amount),
        received=Leg(SOL, "SOL", net),
        position=position,
        fill=fill,
        now=now,
        **entry,
    )


def _close_position(
    position: Position,
    *,
    received_now: Decimal,
    sale_price: Decimal | None,
    reason: str,
    sol_usd,
    now,
) -> ClosedTrade:
    position.realized_sol = money.amount(position.realized_sol + received_now)
    position.remaining_amount = money.ZERO
    position.status = PositionStatus.CLOSED
    position.closed_at = now
    position.close_reason = reason
    position.save()
    cost_basis = money.amount(position.purchase_price * position.total_tokens_bought)
    pnl = full_close_pnl(
        invested_sol=position.total_invested_sol,
        received_sol=position.realized_sol,
        cost_basis_sol=cost_basis,
        sol_usd=sol_usd,
    )
    trade = ClosedTrade.objects.create(
        agent_id=position.agent_id,
        wallet=position.wallet,
        position=position,
        token_address=position.token_address,
        token_symbol=position.token_symbol,
        opened_at=position.opened_at,
        closed_at=now,
        close_reason=reason,
        purchase_price=position.purchase_price,
        sale_price=sale_price,
        tokens_bought=position.total_tokens_bought,
        invested_sol=position.total_invested_sol,
        received_sol=position.realized_sol,
        profit_loss_sol=money.amount(pnl.profit_loss_sol),
        profit_loss_usd=money.amount(pnl.profit_loss_usd)
        if pnl.profit_loss_usd is not None
        else None,
        change_percent=money.percent(pnl.change_percent),
        sol_usd=sol_usd,
    )
    position.closed_trade = trade
    realtime.position_update(position.agent_id, "position_closed", position_payload(position))
    trade_closed_notify(owner_id=position.wallet.owner_id, trade=trade)
    # The balance history gets a point at each close, after commit so it sees the sale. Robust:
    # a snapshot that fails is logged and never undoes or fails the committed close.
    wallet_ids = [position.wallet_id]
    transaction.on_commit(lambda: balance_snapshots_record(wallet_ids=wallet_ids), robust=True)
    return trade


# --- Rug write-off ---------------------------------------------------------------------------------


@realtime.batched()
def position_write_off(*, position_id: int) -> ClosedTrade | None:
    """BURN what remains of a rugged token and close the position as a rug_pull loss."""
    now, sol_usd = _now(), sol_usd_current()
    with transaction.atomic():
        position = _locked_if(position_id)
        if position is None:
            return None
        ledger_write(
            wallet=position.wallet,
            kind=TransactionType.BURN,
            spent=Leg(position.token_address, position.token_symbol, position.remaining_amount),
            position=position,
            now=now,
            idempotency_key=f"close:{position.pk}",
        )
        return _close_position(
            position,
            received_now=money.ZERO,
            sale_price=None,
            reason=CloseReason.RUG_PULL,
            sol_usd=sol_usd,
            now=now,
        )


# --- Partial take-profit sale -------------------------------------------------------------------


@realtime.batched()
def position_take_profit(
    *,
    position_id: int,
    token_amount: Decimal,
    expected_levels_hit: int,
    new_levels_hit: int,
    activate_moon_bag: bool = False,
    moon_bag_amount: Decimal = money.ZERO,
    close_position: bool = False,
    venue: Venue | None = None,
) -> Transaction | None:
    """Sell part of a position at a take-profit level. Each level executes at most once: the
    sale proceeds only while the position is still at `expected_levels_hit`, and its ledger
    entry's key names the level reached. When the rules say only dust would remain (and no moon
    bag), everything is sold and the position closes with reason take_profit."""
    position = Position.objects.select_related("wallet").get(pk=position_id)
    if (
        position.status != PositionStatus.OPEN
        or position.take_profit_levels_hit != expected_levels_hit
    ):
        return None
    remaining = position.remaining_amount
    # A swap moves whole raw units, so the ledger must take off exactly what the venue sells:
    # the decided amount rounded UP to a whole unit (a ladder that sells 100% of the original
    # then ends with nothing left), but never into the moon bag and never past what remains.
    unit = Decimal(1).scaleb(-position.token_decimals)
    bag = money.amount(moon_bag_amount if activate_moon_bag else position.moon_bag_amount)
    keep = bag.quantize(unit, rounding=ROUND_CEILING)
    partial = money.amount(token_amount).quantize(unit, rounding=ROUND_CEILING)
    amount = remaining if close_position else min(partial, remaining - keep)
    if amount <= 0:
        return None
    fill = _sell(position, amount, venue, action=f"tp:{position.pk}:{new_levels_hit}")
    now, sol_usd = _now(), sol_usd_current()
    with transaction.atomic():
        position = _locked_if(
            position_id, take_profit_levels_hit=expected_levels_hit, remaining_amount=remaining
        )
        if position is None:
            return None
        net = _net_proceeds(fill)
        pnl = partial_sale_pnl(
            invested_sol=position.total_invested_sol,
            total_tokens=position.total_tokens_bought,
            tokens_sold=amount,
            net_sol=net,
            purchase_price=position.purchase_price,
            sale_price=fill.price,
            sol_usd=sol_usd,
        )
        cost_basis = money.amount(pnl.cost_basis_sol)
        entry = _record_sale(
            position,
            amount=amount,
            net=net,
            fill=fill,
            now=now,
            idempotency_key=f"tp:{position.pk}:{new_levels_hit}",
            sol_usd=sol_usd,
            cost_basis_sol=cost_basis,
            # From the stored cost basis, so the entry's own figures add up to the last unit.
            profit_loss_sol=net - cost_basis,
            is_take_profit=True,
        )
        position.take_profit_levels_hit = new_levels_hit
        if activate_moon_bag:
            position.moon_bag_activated = True
            position.moon_bag_amount = money.amount(moon_bag_amount)
        if amount == remaining:
            _close_position(
                position,
                received_now=net,
                sale_price=fill.price,
                reason=CloseReason.TAKE_PROFIT,
                sol_usd=sol_usd,
                now=now,
            )
        else:
            position.remaining_amount = money.amount(remaining - amount)
            position.realized_sol = money.amount(position.realized_sol + net)
            position.save()
            realtime.position_update(
                position.agent_id, "position_updated", position_payload(position, fill.price)
            )
    return entry


# --- DCA buy ----------------------------------------------------------------------------------------


@realtime.batched()
def position_dca_buy(
    *,
    position_id: int,
    sol_amount: Decimal,
    expected_dca_count: int,
    take_profit_levels: int,
    venue: Venue | None = None,
) -> Transaction | None:
    """Add to a position at a DCA level. Ignores max_purchase_per_token and the minimum
    balance, but never spends SOL the wallet does not have: the buy shrinks to what the balance
    covers, fees included. Each DCA level executes at most once (`expected_dca_count`)."""
    position = Position.objects.select_related("wallet").get(pk=position_id)
    if position.status != PositionStatus.OPEN or position.dca_count != expected_dca_count:
        return None
    venue = venue or venue_for(position.wallet)
    spend = min(money.amount(sol_amount), _affordable_swap(position.wallet_id, venue))
    if spend <= 0:
        return None
    fill = _swap(
        venue,
        venue.quote_buy(
            mint=position.token_address, decimals=position.token_decimals, sol_amount=spend
        ),
        wallet=position.wallet,
        action=f"dca:{position.pk}:{expected_dca_count + 1}",
    )
    debit = money.amount(fill.sol_amount + fill.protocol_fee_sol + fill.network_fee_sol)
    now, sol_usd = _now(), sol_usd_current()
    with transaction.atomic():
        position = _locked_if(position_id, dca_count=expected_dca_count)
        if position is None:
            return None
        entry = ledger_write(
            wallet=position.wallet,
            kind=TransactionType.SWAP,
            spent=Leg(SOL, "SOL", debit),
            received=Leg(position.token_address, position.token_symbol, fill.token_amount),
            position=position,
            fill=fill,
            now=now,
            sol_usd=sol_usd,
            is_dca=True,
            idempotency_key=f"dca:{position.pk}:{expected_dca_count + 1}",
        )
        average = average_after_buy(
            existing_sol=position.total_invested_sol,
            existing_tokens=position.total_tokens_bought,
            new_sol=debit,
            new_tokens=fill.token_amount,
        )
        position.total_invested_sol = money.amount(average.total_invested_sol)
        position.total_tokens_bought = money.amount(average.total_tokens)
        position.purchase_price = money.price(average.average_price)
        position.remaining_amount = money.amount(position.remaining_amount + fill.token_amount)
        position.dca_count = expected_dca_count + 1
        position.last_dca_at = now
        # Take profit restarts from its first level, relative to the new average.
        position.take_profit_batch_start, _ = reset_after_dca(
            position.take_profit_levels_hit, take_profit_levels
        )
        position.save()
        realtime.position_update(
            position.agent_id, "position_updated", position_payload(position, fill.price)
        )
    return entry


def _affordable_swap(wallet_id: int, venue: Venue) -> Decimal:
    """The largest SOL swap the wallet's balance covers with the venue's costs on top."""
    return venue.spendable(selectors.sol_balance(wallet_id))
