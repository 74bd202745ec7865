"""The per-tick automation: every open position of the updated tokens, evaluated in memory.

Positions are loaded in one query; the pure rules decide; position state the rules move
(peak, stop, lowest) is written back in one bulk update; each resulting action is dispatched as
its own task, which executes it under a row lock and an idempotency guard.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agents.config import effective_config, to_rule_config
from nexgent import money, realtime
from prices.services import LatestPrice
from trading import tasks
from trading.models import CloseReason, Position, PositionStatus
from trading.rules.tick import PositionState, evaluate_tick

logger = logging.getLogger(__name__)

_EXIT_REASONS = {"stop_loss_sell": CloseReason.STOP_LOSS, "stale_sell": CloseReason.STALE_TRADE}
_STATE_FIELDS = ["peak_price", "lowest_price", "stop_loss_percent"]


@dataclass
class TickReport:
    evaluated: int = 0
    actions: list[tuple[int, str]] = field(default_factory=list)


def position_state(position: Position, take_profit_levels: int) -> PositionState:
    return PositionState(
        purchase_price=position.purchase_price,
        total_invested_sol=position.total_invested_sol,
        total_tokens_bought=position.total_tokens_bought,
        remaining_amount=position.remaining_amount,
        peak_price=position.peak_price,
        lowest_price=position.lowest_price,
        stop_loss_percent=position.stop_loss_percent,
        take_profit_levels_hit=position.take_profit_levels_hit,
        take_profit_batch_start=position.take_profit_batch_start,
        # After a DCA buy a new batch of levels starts where the last one stopped.
        take_profit_total_levels=position.take_profit_batch_start + take_profit_levels,
        moon_bag_activated=position.moon_bag_activated,
        moon_bag_amount=position.moon_bag_amount,
        dca_count=position.dca_count,
        last_dca_at=position.last_dca_at,
        opened_at=position.opened_at,
    )


def positions_evaluate(prices: dict[str, LatestPrice], now: datetime | None = None) -> TickReport:

    now = now or datetime.now(UTC)
    report = TickReport()
    positions = list(
        Position.objects.filter(status=PositionStatus.OPEN, token_address__in=list(prices))
        .select_related("agent", "wallet")
        .order_by("pk")
    )
    rule_configs: dict[int, tuple[object, int]] = {}
    changed: list[Position] = []
    by_agent: dict[int, set[str]] = {}
    for position in positions:
        agent = position.agent
        by_agent.setdefault(agent.pk, set()).add(position.token_address)
        if not agent.automated_trading_on(position.wallet.mode):
            continue
        if agent.pk not in rule_configs:
            rules = to_rule_config(effective_config(agent.config))
            rule_configs[agent.pk] = (rules, len(rules.take_profit.resolved()[0]))
        rules, levels = rule_configs[agent.pk]
        price = prices[position.token_address].price_sol
        result = evaluate_tick(rules, position_state(position, levels), price, now)
        report.evaluated += 1
        if _remember_state(position, result):
            changed.append(position)
        for action in result.actions:
            report.actions.append((position.pk, action.kind))
            _dispatch(position, action, levels)
    if changed:
        Position.objects.bulk_update(changed, _STATE_FIELDS, batch_size=500)
    _broadcast_prices(by_agent, prices)
    return report


def _dispatch(position: Position, action, take_profit_levels: int) -> None:
    if action.kind in _EXIT_REASONS:
        tasks.position_exit.delay(
            position.pk, _EXIT_REASONS[action.kind], str(position.remaining_amount)
        )
    elif action.kind == "take_profit_sell":
        tasks.position_take_profit.delay(
            position.pk,
            str(action.token_amount),
            position.take_profit_levels_hit,
            action.new_levels_hit,
            action.activate_moon_bag,
            str(action.moon_bag_amount),
            action.close_position,
        )
    elif action.kind == "dca_buy":
        tasks.position_dca_buy.delay(
            position.pk, str(action.sol_amount), position.dca_count, take_profit_levels
        )


def _remember_state(position: Position, result) -> bool:
    new_values = {
        "peak_price": money.price(result.peak_price),
        "lowest_price": money.price(result.lowest_price),
        "stop_loss_percent": money.percent(result.stop_loss_percent),
    }
    dirty = False
    for name, value in new_values.items():
        if getattr(position, name) != value:
            setattr(position, name, value)
            dirty = True
    return dirty


def _broadcast_prices(by_agent: dict[int, set[str]], prices: dict[str, LatestPrice]) -> None:
    for agent_id, tokens in by_agent.items():
        realtime.price_update_batch(
            agent_id,
            [
                {
                    "token_address": mint,
                    "price_sol": money.as_str(prices[mint].price_sol),
                    "price_usd": money.as_str(prices[mint].price_usd),
                }
                for mint in sorted(tokens)
            ],
        )
