"""Rows for the dashboard tests, made with the ORM (no write services exist for these yet)."""

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from agents.models import Agent
from nexgent.money import WSOL_MINT
from signals_app.models import SignalExecution, TradingSignal
from trading.models import Balance, ClosedTrade, Position, PositionStatus, RiskPause
from wallets.models import AgentWallet

_serial = itertools.count(1)


def make_agent(owner, name="Alpha", **fields) -> Agent:
    return Agent.objects.create(owner=owner, name=name, **fields)


def make_wallet(agent, mode="simulation") -> AgentWallet:
    """The agent's wallet of `mode`: a new agent's simulation wallet is opened with it; a live
    one is created in the keystore and assigned, as the API does."""
    if mode == "live":
        from wallets.services import wallet_assign, wallet_create_live

        existing = AgentWallet.objects.filter(agent=agent, mode=mode).first()
        return existing or wallet_assign(wallet=wallet_create_live(owner=agent.owner), agent=agent)
    wallet, _ = AgentWallet.objects.get_or_create(
        agent=agent, mode=mode, defaults={"owner": agent.owner, "address": f"sim-{next(_serial)}"}
    )
    return wallet


def give_sol(wallet, amount: str) -> Balance:
    return Balance.objects.create(
        wallet=wallet, token_address=WSOL_MINT, token_symbol="SOL", amount=Decimal(amount)
    )


def make_position(
    agent, wallet, token_address, *, status=PositionStatus.OPEN, symbol=""
) -> Position:
    return Position.objects.create(
        agent=agent,
        wallet=wallet,
        token_address=token_address,
        token_symbol=symbol,
        token_decimals=6,
        status=status,
        purchase_price=Decimal("0.000001"),
        total_invested_sol=Decimal("1"),
        total_tokens_bought=Decimal("1000000"),
        remaining_amount=Decimal("1000000") if status == PositionStatus.OPEN else Decimal(0),
        peak_price=Decimal("0.000001"),
        lowest_price=Decimal("0.000001"),
        stop_loss_percent=Decimal("-32"),
        opened_at=timezone.now() - timedelta(hours=1),
    )


def make_closed_trade(
    agent, wallet, *, symbol, profit_loss: str, close_reason="stop_loss", closed_at=None
):
    position = make_position(
        agent, wallet, f"Mint{next(_serial)}", status=PositionStatus.CLOSED, symbol=symbol
    )
    invested = Decimal("1")
    profit = Decimal(profit_loss)
    return ClosedTrade.objects.create(
        agent=agent,
        wallet=wallet,
        position=position,
        token_address=position.token_address,
        token_symbol=symbol,
        opened_at=position.opened_at,
        closed_at=closed_at or timezone.now(),
        close_reason=close_reason,
        purchase_price=position.purchase_price,
        tokens_bought=position.total_tokens_bought,
        invested_sol=invested,
        received_sol=invested + profit,
        profit_loss_sol=profit,
        change_percent=profit / invested * 100,
    )


def make_execution(agent, *, symbol, signal_type, status, reason="") -> SignalExecution:
    signal = TradingSignal.objects.create(
        owner=agent.owner,
        token_address=f"Mint{next(_serial)}",
        symbol=symbol,
        signal_type=signal_type,
        signal_strength=3,
        created_at=timezone.now(),
    )
    return SignalExecution.objects.create(signal=signal, agent=agent, status=status, reason=reason)


def make_risk_pause(agent, *, reason="daily_loss_limit", hours=24, ended=False) -> RiskPause:
    """A pause a risk guard recorded an hour ago (only the guards write them, from trading
    figures a page test has no need to build)."""
    now = timezone.now()
    return RiskPause.objects.create(
        agent=agent,
        reason=reason,
        started_at=now - timedelta(hours=1),
        until=now + timedelta(hours=hours) if hours else None,
        ended_at=now if ended else None,
    )
