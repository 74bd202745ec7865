"""The executor: every write to the trading ledger.

Each trade is ONE database transaction that writes the transaction record, both balance
changes and the position change; a refusal writes nothing. Swaps (HTTP, possibly on-chain)
happen before the transaction opens, never while a row lock is held. Events go out after
commit. A position is sold at most once: the sale re-reads the position under a row lock and
proceeds only if it is still open with exactly the amount that was quoted, and every ledger
entry carries a unique idempotency key naming the action.
"""

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, When
from rest_framework import status

from agents.models import Agent
from nexgent import money, realtime
from nexgent.api import DomainError
from prices.services import sol_usd_current, token_decimals
from trading.buy_statement import (
    LinkedRow,
    LinkedRowRefused,
    buy_write,
    linked_claim_params,
    linked_claim_sql,
)
from trading.models import (
    Balance,
    ClosedTrade,
    CloseReason,
    Position,
    PositionStatus,
    Transaction,
    TransactionType,
)
from trading.rules.dca import average_after_buy
from trading.rules.fees import network_fee_sol
from trading.rules.pnl import full_close_pnl, partial_sale_pnl
from trading.rules.take_profit import reset_after_dca
from trading.selectors import balance_payload, position_payload, sol_balance
from trading.venues import Fill, Venue, venue_for
from wallets.models import AgentWallet

logger = logging.getLogger(__name__)


class TradeRefused(DomainError):
    status_code = status.HTTP_409_CONFLICT


@dataclass(frozen=True, slots=True)
class BuyResult:
    position: Position
    transaction: Transaction


def _now() -> datetime:
    return datetime.now(UTC)


def _lock_balances(
    wallet: AgentWallet, mints: list[str], *, probably_new: str | None = None
) -> dict[str, Balance]:
    """Lock (creating if needed) the wallet's balance rows of these mints, in one order for
    every trade so two trades on the same wallet can never deadlock: SOL first (the buy
    statement, trading/buy_statement.py, cannot do otherwise), then by primary key.

    One locking read when the rows exist (every sale). A buy's token row is usually new: the
    buy names it `probably_new` and it is inserted before anything is locked, so a concurrent
    buy inserting the same row waits for this one while holding nothing. A row still missing
    (a wallet's first SOL) is inserted under the locks taken, then every row is read again;
    only the first deposit and a buy of an unfunded wallet create a SOL row, and neither holds
    a lock the other wants. An insert that loses to a concurrent one is ignored, so there is no
    savepoint to roll back to.
    """
    if probably_new is not None:
        _balances_insert(wallet, [probably_new])
    rows = _locked_balances(wallet, mints)
    missing = [mint for mint in mints if mint not in rows]
    if missing:
        _balances_insert(wallet, missing)
        rows = _locked_balances(wallet, mints)
    return rows


def _balances_insert(wallet: AgentWallet, mints: list[str]) -> None:
    Balance.objects.bulk_create(
        [Balance(wallet=wallet, token_address=mint) for mint in mints], ignore_conflicts=True
    )


def _locked_balances(wallet: AgentWallet, mints: list[str]) -> dict[str, Balance]:
    rows = (
        Balance.objects.select_for_update()
        .filter(wallet=wallet, token_address__in=mints)
        .order_by(Case(When(token_address=money.WSOL_MINT, then=0), default=1), "pk")
    )
    return {row.token_address: row for row in rows}


def _apply(balance: Balance, delta: Decimal, *, code: str, symbol: str = "") -> None:
    """Add `delta` to the balance, refusing to take it below zero. `symbol`: the token's
    symbol, recorded on a row that has none yet."""
    fields = ["amount", "updated_at"]
    if symbol and not balance.token_symbol:
        balance.token_symbol = symbol
        fields.append("token_symbol")
    new_amount = balance.amount + delta
    if new_amount < 0:
        raise TradeRefused(
            f"{balance.token_symbol or balance.token_address} balance {money.as_str(balance.amount)}"
            f" cannot cover {money.as_str(-delta)}",
            code=code,
        )
    balance.amount = new_amount
    balance.save(update_fields=fields)


def _send_balances(agent_id: int, balances: list[Balance]) -> None:
    """The balances a trade changed, as it left them (sent once it commits). The event carries
    only those: the trade wrote them, so no read is needed, and none can be stale."""
    payload = [balance_payload(balance) for balance in balances]
    realtime.balance_update(agent_id, payload)


# --- Deposits and withdrawals of simulation funds -----------------------------------------------


def balance_deposit(*, wallet: AgentWallet, amount: Decimal) -> Transaction:
    return _sol_transfer(wallet=wallet, amount=amount, kind=TransactionType.DEPOSIT)


def balance_withdraw(*, wallet: AgentWallet, amount: Decimal) -> Transaction:
    return _sol_transfer(wallet=wallet, amount=amount, kind=TransactionType.WITHDRAWAL)


def _sol_transfer(*, wallet: AgentWallet, amount: Decimal, kind: str) -> Transaction:
    amount = money.amount(amount)
    if amount <= 0:
        raise DomainError("amount must be greater than 0", code="invalid_amount")
    if wallet.mode != "simulation":
        raise DomainError("only simulation wallets take virtual deposits", code="live_wallet")
    with transaction.atomic():
        balances = _lock_balances(wallet, [money.WSOL_MINT])
        sign = 1 if kind == TransactionType.DEPOSIT else -1
        _apply(balances[money.WSOL_MINT], sign * amount, code="insufficient_balance")
        _send_balances(wallet.agent_id, [balances[money.WSOL_MINT]])
        entry = Transaction.objects.create(
            agent_id=wallet.agent_id,
            wallet=wallet,
            type=kind,
            input_mint=money.WSOL_MINT,
            input_symbol="SOL",
            input_amount=amount,
            created_at=_now(),
        )
    return entry


# --- Buy ----------------------------------------------------------------------------------------


def position_buy(
    *,
    agent: Agent,
    wallet: AgentWallet,
    token_address: str,
    sol_amount: Decimal,
    stop_loss_percent: Decimal,
    token_symbol: str = "",
    signal_id: int | None = None,
    idempotency_key: str | None = None,
    venue: Venue | None = None,
) -> BuyResult:
    """Buy `sol_amount` SOL of a token and open a position.

    purchase price = SOL swapped / tokens received (fees excluded); invested = SOL debited
    (swap + protocol fee + network fee).
    """
    venue = venue or venue_for(wallet)
    decimals = token_decimals(token_address)
    fill = venue.execute(
        venue.quote_buy(mint=token_address, decimals=decimals, sol_amount=sol_amount)
    )
    return position_record_buy(
        agent=agent,
        wallet=wallet,
        token_address=token_address,
        token_symbol=token_symbol,
        decimals=decimals,
        fill=fill,
        stop_loss_percent=stop_loss_percent,
        signal_id=signal_id,
        idempotency_key=idempotency_key,
    )


def position_record_buy(
    *,
    agent: Agent,
    wallet: AgentWallet,
    token_address: str,
    token_symbol: str,
    decimals: int,
    fill: Fill,
    stop_loss_percent: Decimal,
    signal_id: int | None,
    idempotency_key: str | None,
    linked: LinkedRow | None = None,
    sol_usd: Decimal | None = None,
) -> BuyResult:
    """Record a filled buy: debit the SOL, credit the tokens, open the position and write the
    ledger entry, in one database transaction (on PostgreSQL, one statement). `linked`: a row
    that records the buy elsewhere, updated in the same transaction (LinkedRowRefused, and
    nothing written, when it does not allow the buy). `sol_usd`: the SOL/USD
    the entry records, when the caller has read it for several buys; None: read now."""
    position, entry = _new_buy(
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
    writer = _buy_by_statement if _one_statement_buys(token_address) else _buy_by_orm
    return _write_buy(writer, position, entry, linked)


def _new_buy(
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
    sol_usd=None,
) -> tuple[Position, Transaction]:
    """The unsaved position and ledger entry of a filled buy (`sol_usd`: None, read now)."""
    if fill.token_amount <= 0:
        raise TradeRefused(f"the swap delivered {fill.token_amount} tokens", code="invalid_fill")
    debit = money.amount(fill.sol_amount + fill.protocol_fee_sol + fill.network_fee_sol)
    now = _now()
    price = fill.price
    position = Position(
        agent=agent,
        wallet=wallet,
        signal_id=signal_id,
        token_address=token_address,
        token_symbol=token_symbol,
        token_decimals=decimals,
        purchase_price=price,
        total_invested_sol=debit,
        total_tokens_bought=fill.token_amount,
        remaining_amount=fill.token_amount,
        peak_price=price,
        lowest_price=price,
        stop_loss_percent=money.percent(stop_loss_percent),
        opened_at=now,
    )
    entry = Transaction(
        agent=agent,
        wallet=wallet,
        position=position,
        signal_id=signal_id,
        type=TransactionType.SWAP,
        input_mint=money.WSOL_MINT,
        input_symbol="SOL",
        input_amount=debit,
        output_mint=token_address,
        output_symbol=token_symbol,
        output_amount=fill.token_amount,
        price=price,
        protocol_fee_sol=fill.protocol_fee_sol,
        network_fee_sol=fill.network_fee_sol,
        sol_usd=sol_usd if sol_usd is not None else sol_usd_current(),
        tx_signature=fill.tx_signature,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    return position, entry


def _write_buy(
    writer, position: Position, entry: Transaction, linked: LinkedRow | None = None
) -> BuyResult:
    """Write a buy with `writer` (_buy_by_statement or _buy_by_orm) and send its events."""
    try:
        with _trade_block(writer):
            balances = writer(position.wallet, position, entry, linked)
            realtime.position_update(
                position.agent_id,
                "position_created",
                position_payload(position, position.purchase_price),
            )
            _send_balances(position.agent_id, balances)
    except IntegrityError as exc:
        # The partial unique index (one open position per token) or the idempotency key: a
        # concurrent buy got there first. Nothing of this one was written.
        raise TradeRefused(
            "a position in this token is already open (or this buy already ran)",
            code="position_exists",
        ) from exc
    return BuyResult(position, entry)


def _one_statement_buys(token_address: str) -> bool:
    # The statement updates the SOL row and upserts the token's: they must be two rows.
    return connection.vendor == "postgresql" and token_address != money.WSOL_MINT


def _trade_block(writer):
    """The buy statement is atomic by itself; inside a caller's transaction it still needs a
    savepoint, so that a refused buy leaves the caller's transaction usable."""
    if writer is _buy_by_statement and not connection.in_atomic_block:
        return nullcontext()
    return transaction.atomic()


def _buy_by_orm(wallet, position, entry, linked=None) -> list[Balance]:
    debit = entry.input_amount
    if linked is not None:
        _claim_linked(linked)
    balances = _lock_balances(
        wallet, [money.WSOL_MINT, position.token_address], probably_new=position.token_address
    )
    _apply(balances[money.WSOL_MINT], -debit, code="insufficient_balance")
    token_balance = balances[position.token_address]
    _apply(
        token_balance,
        position.total_tokens_bought,
        code="invalid_fill",
        symbol=position.token_symbol,
    )
    position.save(force_insert=True)
    entry.position = position
    entry.save(force_insert=True)
    if linked is not None:
        linked.model._base_manager.filter(pk=linked.pk).update(
            **linked.values, **{linked.position_field: position, linked.entry_field: entry}
        )
    return [balances[money.WSOL_MINT], token_balance]


def _claim_linked(linked: LinkedRow) -> None:
    """The ORM path's part of LinkedRow: the row, locked first where the database can lock a
    row (SQLite lets one writer in at a time), must still allow the buy."""
    lock = connection.features.has_select_for_update
    with connection.cursor() as cursor:
        cursor.execute(linked_claim_sql(linked, lock=lock), linked_claim_params(linked))
        if cursor.fetchone() is None:
            raise LinkedRowRefused(f"{linked.model.__name__} {linked.pk} did not allow the buy")


def _buy_by_statement(wallet, position, entry, linked=None) -> list[Balance]:
    debit = entry.input_amount
    rows = buy_write(
        wallet_id=wallet.pk,
        sol_mint=money.WSOL_MINT,
        debit=debit,
        token_amount=position.total_tokens_bought,
        position=position,
        entry=entry,
        now=entry.created_at,
        linked=linked,
    )
    if rows is None:
        sol = sol_balance(wallet.pk)
        raise TradeRefused(
            f"SOL balance {money.as_str(sol)} cannot cover {money.as_str(debit)}",
            code="insufficient_balance",
        )
    alias = connection.alias
    for instance, pk in ((position, rows.position_id), (entry, rows.entry_id)):
        instance.pk = pk
        instance._state.adding, instance._state.db = False, alias
    entry.position = position
    return [rows.sol, rows.token]


# --- Full sale ------------------------------------------------------------------------------------


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
    venue = venue or venue_for(position.wallet)
    fill = venue.execute(
        venue.quote_sell(
            mint=position.token_address, decimals=position.token_decimals, token_amount=amount
        )
    )
    return _record_close(position_id=position_id, amount=amount, fill=fill, reason=reason)


def _record_close(
    *, position_id: int, amount: Decimal, fill: Fill, reason: str
) -> ClosedTrade | None:
    now = _now()
    sol_usd = sol_usd_current()
    with transaction.atomic():
        position = Position.objects.select_for_update().select_related("wallet").get(pk=position_id)
        if position.status != PositionStatus.OPEN or position.remaining_amount != amount:
            return None
        net = _net_proceeds(fill)
        _record_sale(
            position,
            amount=amount,
            net=net,
            fill=fill,
            sol_usd=sol_usd,
            now=now,
            idempotency_key=f"close:{position.pk}",
        )
        trade = _close_position(
            position,
            received_now=net,
            sale_price=fill.price,
            reason=reason,
            sol_usd=sol_usd,
            now=now,
        )
    return trade


def _net_proceeds(fill: Fill) -> Decimal:
    """SOL credited for a sale: SOL out - protocol fee - network fee."""
    return money.amount(fill.sol_amount - fill.protocol_fee_sol - fill.network_fee_sol)


def _record_sale(
    position: Position,
    *,
    amount: Decimal,
    net: Decimal,
    fill: Fill,
    sol_usd,
    now,
    idempotency_key: str,
    **entry_fields,
) -> Transaction:
    """Move the sold tokens out and the net SOL in, and write the sale's ledger entry.
    Runs inside the caller's transaction, with the position row locked."""
    balances = _lock_balances(position.wallet, [money.WSOL_MINT, position.token_address])
    _apply(balances[position.token_address], -amount, code="insufficient_tokens")
    _apply(balances[money.WSOL_MINT], net, code="insufficient_balance")
    _send_balances(position.agent_id, [balances[money.WSOL_MINT], balances[position.token_address]])
    return Transaction.objects.create(
        agent_id=position.agent_id,
        wallet=position.wallet,
        position=position,
        type=TransactionType.SWAP,
        input_mint=position.token_address,
        input_symbol=position.token_symbol,
        input_amount=amount,
        output_mint=money.WSOL_MINT,
        output_symbol="SOL",
        output_amount=net,
        price=fill.price,
        protocol_fee_sol=fill.protocol_fee_sol,
        network_fee_sol=fill.network_fee_sol,
        sol_usd=sol_usd,
        tx_signature=fill.tx_signature,
        idempotency_key=idempotency_key,
        created_at=now,
        **entry_fields,
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
    return trade


# --- Rug write-off ---------------------------------------------------------------------------------


def position_write_off(*, position_id: int) -> ClosedTrade | None:
    """BURN what remains of a rugged token and close the position as a rug_pull loss."""
    now = _now()
    sol_usd = sol_usd_current()
    with transaction.atomic():
        position = Position.objects.select_for_update().select_related("wallet").get(pk=position_id)
        if position.status != PositionStatus.OPEN:
            return None
        amount = position.remaining_amount
        balances = _lock_balances(position.wallet, [position.token_address])
        _apply(balances[position.token_address], -amount, code="insufficient_tokens")
        _send_balances(position.agent_id, [balances[position.token_address]])
        Transaction.objects.create(
            agent_id=position.agent_id,
            wallet=position.wallet,
            position=position,
            type=TransactionType.BURN,
            input_mint=position.token_address,
            input_symbol=position.token_symbol,
            input_amount=amount,
            idempotency_key=f"close:{position.pk}",
            created_at=now,
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
    venue = venue or venue_for(position.wallet)
    fill = venue.execute(
        venue.quote_sell(
            mint=position.token_address, decimals=position.token_decimals, token_amount=amount
        )
    )
    sol_usd = sol_usd_current()
    now = _now()
    with transaction.atomic():
        position = Position.objects.select_for_update().select_related("wallet").get(pk=position_id)
        if (
            position.status != PositionStatus.OPEN
            or position.take_profit_levels_hit != expected_levels_hit
            or position.remaining_amount != remaining
        ):
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
            sol_usd=sol_usd,
            now=now,
            idempotency_key=f"tp:{position.pk}:{new_levels_hit}",
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
    spend = min(money.amount(sol_amount), _affordable_swap(position.wallet_id))
    if spend <= 0:
        return None
    fill = venue.execute(
        venue.quote_buy(
            mint=position.token_address, decimals=position.token_decimals, sol_amount=spend
        )
    )
    debit = money.amount(fill.sol_amount + fill.protocol_fee_sol + fill.network_fee_sol)
    sol_usd = sol_usd_current()
    now = _now()
    with transaction.atomic():
        position = Position.objects.select_for_update().select_related("wallet").get(pk=position_id)
        if position.status != PositionStatus.OPEN or position.dca_count != expected_dca_count:
            return None
        balances = _lock_balances(position.wallet, [money.WSOL_MINT, position.token_address])
        _apply(balances[money.WSOL_MINT], -debit, code="insufficient_balance")
        _apply(balances[position.token_address], fill.token_amount, code="invalid_fill")
        _send_balances(
            position.agent_id, [balances[money.WSOL_MINT], balances[position.token_address]]
        )
        entry = Transaction.objects.create(
            agent_id=position.agent_id,
            wallet=position.wallet,
            position=position,
            type=TransactionType.SWAP,
            input_mint=money.WSOL_MINT,
            input_symbol="SOL",
            input_amount=debit,
            output_mint=position.token_address,
            output_symbol=position.token_symbol,
            output_amount=fill.token_amount,
            price=fill.price,
            protocol_fee_sol=fill.protocol_fee_sol,
            network_fee_sol=fill.network_fee_sol,
            sol_usd=sol_usd,
            is_dca=True,
            tx_signature=fill.tx_signature,
            idempotency_key=f"dca:{position.pk}:{expected_dca_count + 1}",
            created_at=now,
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


def _affordable_swap(wallet_id: int) -> Decimal:
    """The largest SOL swap the wallet's balance covers with both fees on top."""
    from django.conf import settings

    balance = Balance.objects.filter(wallet_id=wallet_id, token_address=money.WSOL_MINT).first()
    available = balance.amount if balance else money.ZERO
    network = network_fee_sol(
        settings.SIM_SIGNATURE_FEE_LAMPORTS,
        settings.SIM_PRIORITY_FEE_LAMPORTS,
        settings.SIM_RENT_FEE_LAMPORTS,
    )
    fee_rate = Decimal(settings.SIM_PROTOCOL_FEE_BPS) / 10_000
    return money.amount((available - network) / (1 + fee_rate))
