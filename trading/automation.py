"""The per-tick automation: every open position of the updated tokens, evaluated in memory.

Positions are loaded in one query, as plain rows of only the columns the rules read (model
instances cost more to build than the rules cost to run); their agents' configurations come in
one more, small, query. The pure rules decide; position state the rules moved (peak, stop,
lowest) is written back, for the positions where it changed only, in one statement; each
resulting action is dispatched as its own task, which executes it under a row lock and an
idempotency guard. bench/tick_10k.py measures this path (docs/benchmarks.md).
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from django.db import connection, models
from django.db.models import QuerySet
from psycopg.types.string import TextLoader

from agents.config import effective_config, to_rule_config
from agents.models import Agent
from nexgent import money, realtime
from prices.services import LatestPrice
from trading import tasks
from trading.models import CloseReason, Position, PositionStatus
from trading.rules.quiet import QuietRange, quiet_range
from trading.rules.tick import Action, PositionState, evaluate_tick

logger = logging.getLogger(__name__)

_EXIT_REASONS = {"stop_loss_sell": CloseReason.STOP_LOSS, "stale_sell": CloseReason.STALE_TRADE}
_STATE_FIELDS = ["peak_price", "lowest_price", "stop_loss_percent"]
_AGENT_FIELDS = ["automated_trading_simulation", "automated_trading_live", "config"]
_WRITE_BATCH = 500
# Enough for every distinct agent configuration of a busy engine.
_RULE_CONFIG_CACHE_SIZE = 1024

# Every PositionState field is the Position column of the same name, except the end of the
# take-profit batch, which depends on the agent's configuration. Reading the columns in the
# dataclass's own order lets a row become a PositionState positionally, which is much cheaper
# than by keyword and still follows the dataclass if its fields are reordered.
_TOTAL_LEVELS = "take_profit_total_levels"
_STATE_COLUMNS = [name for name in PositionState._fields if name != _TOTAL_LEVELS]
_TOTAL_LEVELS_AT = PositionState._fields.index(_TOTAL_LEVELS)
_BATCH_START = _STATE_COLUMNS.index("take_profit_batch_start")
_ROW_HEAD = ["pk", "agent_id", "wallet__mode", "token_address"]
_STATE_START = len(_ROW_HEAD)
_ROW_COLUMNS = [*_ROW_HEAD, *_STATE_COLUMNS]


def _timestamp_from_text(text: str) -> datetime:
    # PostgreSQL's ISO output ("2026-11-22 10:00:00.123456+00"), the only style psycopg reads.
    return datetime.fromisoformat(text)


def _text_parser(name: str) -> Callable[[str], object] | None:
    model_field = Position._meta.get_field(name)
    if isinstance(model_field, models.DecimalField):
        return Decimal
    if isinstance(model_field, models.DateTimeField):
        return _timestamp_from_text
    return None  # integers and booleans arrive as such


# On PostgreSQL the state columns are read as the text the server sends (see _open_positions);
# these turn the text into values, column by column, when the rules need them.
_STATE_PARSERS = tuple(_text_parser(name) for name in _STATE_COLUMNS)


@dataclass
class TickReport:
    evaluated: int = 0
    # Of those evaluated, how many were inside the quiet range remembered from an earlier tick.
    within_quiet_range: int = 0
    actions: list[tuple[int, str]] = field(default_factory=list)


# Position id -> (its state columns, its rules, the QuietRange) after a quiet tick. A tick whose
# price is inside the range, for the very same state and rules, is known to be quiet without
# running the rules (trading/rules/quiet.py). Each tick keeps only the entries it used or made,
# so a closed or changed position's entry goes with the next tick of its token.
_quiet_ranges: dict[int, tuple[tuple, tuple, QuietRange]] = {}


def positions_evaluate(prices: dict[str, LatestPrice], now: datetime | None = None) -> TickReport:
    now = now or datetime.now(UTC)
    rows, agents, as_text = _open_positions(list(prices))
    report, changed, watchers = _evaluate_positions(rows, agents, prices, now, as_text)
    if changed:
        _store_exit_state(changed)
    _broadcast_prices(watchers, prices)
    return report


def _open_positions(tokens: list[str]) -> tuple[list[tuple], dict[int, Agent], bool]:
    """The open positions in these tokens as rows of _ROW_COLUMNS, by primary key; their agents
    with only what the tick reads of them; and whether the state columns are still text."""
    positions = (
        Position.objects.filter(status=PositionStatus.OPEN, token_address__in=tokens)
        .order_by("pk")
        .values_list(*_ROW_COLUMNS)
    )
    as_text = connection.vendor == "postgresql"
    rows = _rows_as_text(positions) if as_text else list(positions)
    agent_ids = {row[1] for row in rows}
    agents = Agent.objects.filter(pk__in=agent_ids).only(*_AGENT_FIELDS).in_bulk()
    return rows, agents, as_text


def _rows_as_text(positions: QuerySet) -> list[tuple]:
    """The query's rows with numeric and timestamp columns as the server's text.

    psycopg's Decimal and timezone-aware datetime loaders are most of the cost of reading
    10,000 positions (about 150 of 190 ms on the benchmark's machine); the text costs almost
    nothing, is compared as it is against the state a quiet range was made for, and is turned
    into values only for the positions the rules run on.
    """
    sql, params = positions.query.sql_with_params()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for type_name in ("numeric", "timestamptz"):
            raw.adapters.register_loader(type_name, TextLoader)
        raw.execute(sql, params)
        return raw.fetchall()


def _state_values(values: tuple) -> list:
    return [
        value if parse is None or value is None else parse(value)
        for parse, value in zip(_STATE_PARSERS, values, strict=True)
    ]


def _evaluate_positions(
    rows: list[tuple],
    agents: dict[int, Agent],
    prices: dict[str, LatestPrice],
    now: datetime,
    as_text: bool = False,
) -> tuple[TickReport, list[tuple], dict[int, set[str]]]:
    """Run the rules on every position whose agent automates its wallet's mode, dispatching the
    actions. Returns the report, (pk, peak, lowest, stop) of the positions whose state moved,
    and the tokens each agent holds (every agent hears its prices, automated or not)."""
    global _quiet_ranges
    report = TickReport()
    changed: list[tuple] = []
    watchers: dict[int, set[str]] = {}
    remembered, kept = _quiet_ranges, {}
    # (agent id, wallet mode) -> (rules, take-profit levels), or None when automation is off.
    decisions: dict[tuple[int, str], tuple | None] = {}
    price_of = {mint: latest.price_sol for mint, latest in prices.items()}
    for row in rows:
        pk, agent_id, mode, token = row[:_STATE_START]
        held = watchers.get(agent_id)
        if held is None:
            held = watchers[agent_id] = set()
        held.add(token)
        key = (agent_id, mode)
        if key not in decisions:
            decisions[key] = _decision(agents.get(agent_id), mode)
        decision = decisions[key]
        if decision is None:
            continue
        price = price_of[token]
        report.evaluated += 1
        columns = row[_STATE_START:]
        entry = remembered.get(pk)
        if (
            entry is not None
            and entry[2].contains(price, now)
            and entry[1] is decision
            and entry[0] == columns
        ):
            report.within_quiet_range += 1
            kept[pk] = entry
            continue
        rules, levels = decision
        values = _state_values(columns) if as_text else columns
        state = PositionState(
            *values[:_TOTAL_LEVELS_AT],
            # After a DCA buy a new batch of levels starts where the last one stopped.
            values[_BATCH_START] + levels,
            *values[_TOTAL_LEVELS_AT:],
        )
        result = evaluate_tick(rules, state, price, now)
        moved = None
        # The rules hand back the very objects they were given for what did not move, so the
        # common tick is told apart without rounding anything.
        if (
            result.peak_price is not state.peak_price
            or result.lowest_price is not state.lowest_price
            or result.stop_loss_percent is not state.stop_loss_percent
        ):
            moved = _moved_state(state, result)
            if moved is not None:
                changed.append((pk, *moved))
        for action in result.actions:
            report.actions.append((pk, action.kind))
            _dispatch(pk, state, action, levels)
        if moved is None and not result.actions:
            quiet = quiet_range(rules, state, price, now)
            if quiet is not None:
                kept[pk] = (columns, decision, quiet)
    _quiet_ranges = kept
    return report, changed, watchers


def _decision(agent: Agent | None, mode: str) -> tuple | None:
    # An agent deleted between the two queries takes its positions with it: nothing to do.
    if agent is None or not agent.automated_trading_on(mode):
        return None
    # Stored overrides are small; their JSON text is a cheap, exact cache key.
    return _rules_for(json.dumps(agent.config, sort_keys=True))


@lru_cache(maxsize=_RULE_CONFIG_CACHE_SIZE)
def _rules_for(config_json: str) -> tuple:
    """The rule config of stored overrides and its number of take-profit levels."""
    rules = to_rule_config(effective_config(json.loads(config_json)))
    return rules, len(rules.take_profit.resolved()[0])


def _moved_state(state: PositionState, result) -> tuple | None:
    """The state to store, rounded as the columns hold it, or None if that changes nothing."""
    moved = (
        money.price(result.peak_price),
        money.price(result.lowest_price),
        money.percent(result.stop_loss_percent),
    )
    if moved == (state.peak_price, state.lowest_price, state.stop_loss_percent):
        return None
    return moved


def _store_exit_state(changed: list[tuple]) -> None:
    """Write (pk, peak, lowest, stop) rows back.

    On PostgreSQL that is one UPDATE joined to the new values, sent as one array per column.
    bulk_update sends a CASE WHEN per row for every column, which the database evaluates for
    every row it updates: about 650 ms for the 954 new lows of bench/tick_10k.py, against
    about 35 ms this way.
    """
    if connection.vendor != "postgresql":
        Position.objects.bulk_update(
            [
                Position(pk=pk, peak_price=peak, lowest_price=lowest, stop_loss_percent=stop)
                for pk, peak, lowest, stop in changed
            ],
            _STATE_FIELDS,
            batch_size=_WRITE_BATCH,
        )
        return
    meta, quote = Position._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    columns = [meta.pk, *(meta.get_field(name) for name in _STATE_FIELDS)]
    arrays = ", ".join(f"%s::{column.cast_db_type(connection)}[]" for column in columns)
    names = ", ".join(quote(column.column) for column in columns)
    assignments = ", ".join(
        f"{quote(column.column)} = v.{quote(column.column)}" for column in columns[1:]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({names})"
            f" WHERE {table}.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}",
            [list(values) for values in zip(*changed, strict=True)],
        )


def _dispatch(position_id: int, state: PositionState, action: Action, levels: int) -> None:
    if action.kind in _EXIT_REASONS:
        # The amount the sale is for: after a take-profit sale on the same tick, a stale close
        # is for what that sale leaves, and the executor checks the position holds exactly it.
        tasks.position_exit.delay(position_id, _EXIT_REASONS[action.kind], str(action.token_amount))
    elif action.kind == "take_profit_sell":
        tasks.position_take_profit.delay(
            position_id,
            str(action.token_amount),
            state.take_profit_levels_hit,
            action.new_levels_hit,
            action.activate_moon_bag,
            str(action.moon_bag_amount),
            action.close_position,
        )
    elif action.kind == "dca_buy":
        tasks.position_dca_buy.delay(position_id, str(action.sol_amount), state.dca_count, levels)


def _broadcast_prices(watchers: dict[int, set[str]], prices: dict[str, LatestPrice]) -> None:
    # Each token's entry is formatted once and shared by every agent that holds it: the channel
    # layer copies (in memory) or serialises (Redis) each message as it is sent.
    entries: dict[str, realtime.PriceUpdate] = {}
    for agent_id, tokens in watchers.items():
        batch = []
        for mint in sorted(tokens):
            entry = entries.get(mint)
            if entry is None:
                latest = prices[mint]
                entry = entries[mint] = {
                    "token_address": mint,
                    "price_sol": money.as_str(latest.price_sol),
                    "price_usd": money.as_str(latest.price_usd),
                }
            batch.append(entry)
        realtime.price_update_batch(agent_id, batch)
