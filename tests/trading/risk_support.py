"""Helpers for the risk-guard tests: agents with guards, trades that lose, signals end to end.
Every row is written through the engine's services against localnet."""

import itertools
from decimal import Decimal

from agents.services import agent_create
from signals_app.models import SignalExecution
from signals_app.services import signal_create
from signals_app.tasks import signal_received
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, Position
from trading.services import position_buy, position_close

_signal_types = itertools.count()


def guarded_agent(owner, risk: dict | None = None, *, name="Guarded", deposit="10", **config):
    agent = agent_create(owner=owner, name=name, config={"risk": risk or {}, **config})
    wallet = agent.wallets.get(mode="simulation")
    balance_deposit(wallet=wallet, amount=Decimal(deposit))
    return agent, wallet


def open_position(agent, wallet, token, sol="1") -> Position:
    return position_buy(
        agent=agent,
        wallet=wallet,
        token_address=token,
        sol_amount=Decimal(sol),
        stop_loss_percent=Decimal("-32"),
    ).position


def losing_close(market, agent, wallet, token, *, drop="0.5", reason="stop_loss") -> ClosedTrade:
    """Buy 1 SOL of the token, let its price fall to `drop` of what it was, sell everything;
    the market price is put back afterwards."""
    price = market.price_sol(token)
    position = open_position(agent, wallet, token)
    market.set_price(token, price * Decimal(drop))
    try:
        trade = position_close(position_id=position.pk, reason=reason)
    finally:
        market.set_price(token, price)
    assert trade is not None and trade.profit_loss_sol < 0
    return trade


def signal_for(owner, agent, token, capture) -> SignalExecution:
    """Post a signal, run its fan-out and buys, and return the agent's execution record."""
    with capture(execute=True):
        signal, _ = signal_create(
            owner=owner,
            token_address=token,
            signal_type=f"BUY{next(_signal_types)}",
            signal_strength=3,
        )
        signal_received(signal)
    return SignalExecution.objects.get(signal=signal, agent=agent)
