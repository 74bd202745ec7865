"""The price tick: prices for every token held, then every open position evaluated in memory.

`price_tick` is what the beat runs every PRICE_POLL_INTERVAL_SECONDS: the prices of the tracked
tokens (prices fetches, caches and records them), `positions_evaluate` on them, the rug check
on the tokens left without a price, and the staleness watch.

`positions_evaluate` loads the open positions of the priced tokens in one query and their
agents' configurations in one more. The pure rules decide; position state the rules moved
(peak, stop, lowest) is written back for the positions where it changed, one UPDATE per moved
value;
each resulting action is dispatched as its own task, which executes it under a row lock and an
idempotency guard. bench/tick_10k.py measures this path (docs/benchmarks.md).

The state columns are read as text (`Cast`) and turned into values only for the positions the
rules run on: a quiet tick (docs/decisions.md, "quiet ranges") compares the text with what it
remembered, and building 10,000 positions' Decimals and datetimes cost twice the rest of the
query (about 90 ms of 130 ms on the benchmark's machine).
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple, Protocol

from django.conf import settings
from django.db import models
from django.db.models.functions import Cast

from agents.config import ConfigValidationError, agent_rules
from agents.models import Agent
from nexgent import money, realtime
from nexgent.http import ExternalServiceError
from prices import clients, services
from prices.selectors import LatestPrice
from trading.models import Position, PositionStatus
from trading.rules.exits import PositionState
from trading.rules.quiet import QuietRange, quiet_range
from trading.rules.tick import Action, evaluate_tick

logger = logging.getLogger(__name__)

_AGENT_FIELDS = ["automated_trading_simulation", "automated_trading_live", "config"]


class Order(NamedTuple):
    """An action the tick decided for one position, with the state it decided on: the
    executor acts only if the position still holds it."""

    position_id: int
    action: Action
    levels_hit: int  # take-profit levels hit when decided
    dca_count: int  # DCA buys made when decided
    take_profit_levels: int  # levels in a batch of the agent's ladder


class Executor(Protocol):
    """Where the tick's decisions go: trading.tasks queues each as a task of its own."""

    def act(self, order: Order) -> None: ...

    def write_off(self, position_id: int) -> None: ...


# --- The tick -----------------------------------------------------------------------------------


def tracked_tokens() -> list[str]:
    """Tokens with open positions: a new position is tracked from the next tick on."""
    # order_by() drops the model's default ordering, which DISTINCT would otherwise include
    # (one row per position instead of one per token).
    return sorted(
        Position.objects.filter(status=PositionStatus.OPEN)
        .order_by()
        .values_list("token_address", flat=True)
        .distinct()
    )


def price_tick(executor: Executor) -> str:
    """One tick; returns its outcome: idle (nothing tracked), priced, unpriced (no fresh price)."""
    tokens = tracked_tokens()
    if not tokens:
        services.sol_usd_watch()
        services.poll_tick_record(tracked_tokens=0, stale_tokens=0)
        return "idle"
    try:
        fetch = services.prices_fetch(tokens)
    except ExternalServiceError:
        fetch = None  # the provider's status, metrics and log say why
    prices = fetch.prices if fetch is not None else {}
    # Only prices fetched this tick are evaluated: a token without one is left alone. Nothing
    # else comes between the prices and the evaluation: every millisecond here delays an exit.
    if prices:
        positions_evaluate(prices, executor)
    services.sol_usd_watch()
    if fetch is not None:
        services.prices_record(fetch)
        # The feed answered but left these out: a rug when their SOL liquidity is gone too.
        _write_off_rugged([mint for mint in tokens if mint not in prices], executor)
    if prices:
        services.price_history_sample(list(prices.values()))
    stale = services.tokens_watch(tokens)
    services.poll_tick_record(tracked_tokens=len(tokens), stale_tokens=stale)
    return "priced" if prices else "unpriced"


def _write_off_rugged(unpriced: list[str], executor: Executor) -> None:
    """Write off positions in tokens whose price feed fails and whose deepest SOL pool holds
    less than RUG_LIQUIDITY_SOL_THRESHOLD. A failed liquidity fetch is never taken for a rug."""
    if not unpriced:
        return
    try:
        liquidity = clients.liquidity_sol(unpriced)
    except ExternalServiceError:
        return
    rugged = [mint for mint, sol in liquidity.items() if sol < settings.RUG_LIQUIDITY_SOL_THRESHOLD]
    if not rugged:
        return
    for position_id, mode, simulation_on, live_on in Position.objects.filter(
        status=PositionStatus.OPEN, token_address__in=rugged
    ).values_list(
        "pk", "wallet__mode", "agent__automated_trading_simulation", "agent__automated_trading_live"
    ):
        if simulation_on if mode == "simulation" else live_on:
            logger.warning(
                "position %s: token rugged (SOL liquidity under threshold), writing off",
                position_id,
            )
            executor.write_off(position_id)


# --- Evaluating the positions ------------------------------------------------------------------

# Every PositionState field is the Position column of the same name, except the end of the
# take-profit batch, which depends on the agent's configuration.
_TOTAL_LEVELS = "take_profit_total_levels"
_STATE_COLUMNS = [name for name in PositionState._fields if name != _TOTAL_LEVELS]
_TOTAL_LEVELS_AT = PositionState._fields.index(_TOTAL_LEVELS)
_BATCH_START = _STATE_COLUMNS.index("take_profit_batch_start")
_HEAD = ["pk", "agent_id", "wallet__mode", "token_address"]
_AS_TEXT = {f"{name}_text": Cast(name, models.TextField()) for name in _STATE_COLUMNS}


def _aware(text: str) -> datetime:
    # PostgreSQL's text carries the offset ("...+00"); SQLite's is UTC without one.
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _boolean(text: str) -> bool:
    return text in ("true", "1")  # PostgreSQL's text of a boolean, SQLite's of its integer


def _parser(name: str) -> Callable[[str], object]:
    column = Position._meta.get_field(name)
    if isinstance(column, models.DecimalField):
        return Decimal
    if isinstance(column, models.DateTimeField):
        return _aware
    if isinstance(column, models.BooleanField):
        return _boolean
    return int


_PARSERS = tuple(_parser(name) for name in _STATE_COLUMNS)


@dataclass
class TickReport:
    evaluated: int = 0
    # Of those evaluated, how many were inside the quiet range remembered from an earlier tick.
    within_quiet_range: int = 0
    actions: list[tuple[int, str]] = field(default_factory=list)


# Position id -> (its state as text, its rules, the QuietRange) after a quiet tick. A tick whose
# price is inside the range, for the very same state and rules, is known to be quiet without
# running the rules (trading/rules/quiet.py). Each tick keeps only the entries it used or made,
# so a closed or changed position's entry goes with the next tick of its token.
_quiet_ranges: dict[int, tuple[tuple, object, QuietRange]] = {}


def positions_evaluate(
    prices: dict[str, LatestPrice], executor: Executor, now: datetime | None = None
) -> TickReport:
    now = now or datetime.now(UTC)
    rows, agents = _open_positions(list(prices))
    report, changed, watchers = _evaluate(rows, agents, prices, now, executor)
    if changed:
        _store_exit_state(changed)
    _broadcast_prices(watchers, prices)
    return report


def _open_positions(tokens: list[str]) -> tuple[list[tuple], dict[int, Agent]]:
    """The open positions in these tokens, by primary key, as rows of their head columns and
    their state as text; and their agents, with only what the tick reads of them."""
    rows = list(
        Position.objects.filter(status=PositionStatus.OPEN, token_address__in=tokens)
        .order_by("pk")
        .annotate(**_AS_TEXT)
        .values_list(*_HEAD, *_AS_TEXT)
    )
    agents = Agent.objects.filter(pk__in={row[1] for row in rows}).only(*_AGENT_FIELDS).in_bulk()
    return rows, agents


def _store_exit_state(changed: list[tuple[int, str, Decimal]]) -> None:
    """Write the moved (position, column, value) back: one UPDATE per column and value, since
    the positions of a token move to the same new peak or low together. bulk_update builds a
    CASE expression per row and column, and compiling them cost about 0.7 ms a position (a
    tick with 954 new lows took 670 ms; this way a few tens, docs/benchmarks.md)."""
    by_value: dict[tuple[str, Decimal], list[int]] = defaultdict(list)
    for pk, column, value in changed:
        by_value[(column, value)].append(pk)
    for (column, value), pks in by_value.items():
        Position.objects.filter(pk__in=pks).update(**{column: value})


def _evaluate(
    rows: list[tuple],
    agents: dict[int, Agent],
    prices: dict[str, LatestPrice],
    now: datetime,
    executor: Executor,
) -> tuple[TickReport, list[Position], dict[int, set[str]]]:
    """Run the rules on every position whose agent automates its wallet's mode, dispatching the
    actions. Returns the report, the positions whose exit state moved (as unsaved rows of the
    new state), and the tokens each agent holds (every agent hears its prices, automated or
    not)."""
    global _quiet_ranges
    report, changed, watchers = TickReport(), [], {}
    remembered, kept = _quiet_ranges, {}
    # (agent id, wallet mode) -> the agent's rules, or None when automation is off.
    decisions: dict[tuple[int, str], object] = {}
    head = len(_HEAD)
    for row in rows:
        pk, agent_id, mode, token = row[:head]
        watchers.setdefault(agent_id, set()).add(token)
        key = (agent_id, mode)
        if key not in decisions:
            agent = agents.get(agent_id)
            automated = agent is not None and agent.automated_trading_on(mode)
            decisions[key] = _rules_or_none(agent) if automated else None
        rules = decisions[key]
        if rules is None:
            continue
        price = prices[token].price_sol
        report.evaluated += 1
        text = row[head:]
        entry = remembered.get(pk)
        if (
            entry is not None
            and entry[0] == text
            and entry[1] is rules
            and entry[2].contains(price, now)
        ):
            report.within_quiet_range += 1
            kept[pk] = entry
            continue
        state = _state(text, rules)
        result = evaluate_tick(rules, state, price, now)
        moved = _moved(pk, state, result)
        changed += moved
        for action in result.actions:
            report.actions.append((pk, action.kind))
            executor.act(
                Order(pk, action, state.take_profit_levels_hit, state.dca_count, _levels(rules))
            )
        if not moved and not result.actions:
            quiet = quiet_range(rules, state, price, now)
            if quiet is not None:
                kept[pk] = (text, rules, quiet)
    _quiet_ranges = kept
    return report, changed, watchers


def _rules_or_none(agent: Agent):
    """The agent's rules, or None (its positions left alone this tick, and said so) when its
    stored config cannot be read: one agent's bad config must never stop every exit."""
    try:
        return agent_rules(agent.config)
    except ConfigValidationError as error:
        logger.error(
            "agent %s: config cannot be read, its positions are not evaluated: %s",
            agent.pk,
            error.details,
        )
        return None


def _state(text: tuple, rules) -> PositionState:
    values = [
        None if value is None else parse(value) for parse, value in zip(_PARSERS, text, strict=True)
    ]
    # After a DCA buy a new batch of levels starts where the last one stopped.
    batch_end = values[_BATCH_START] + _levels(rules)
    return PositionState(*values[:_TOTAL_LEVELS_AT], batch_end, *values[_TOTAL_LEVELS_AT:])


def _levels(rules) -> int:
    return len(rules.take_profit.resolved()[0])


def _moved(pk: int, state: PositionState, result) -> list[tuple[int, str, Decimal]]:
    """The exit state to store, as (pk, column, value) of each column that moved, rounded as
    the column holds it."""
    if (
        result.peak_price is state.peak_price
        and result.lowest_price is state.lowest_price
        and result.stop_loss_percent is state.stop_loss_percent
    ):
        return []  # the rules hand back the very values they were given for what did not move
    stored = (
        ("peak_price", money.price(result.peak_price), state.peak_price),
        ("lowest_price", money.price(result.lowest_price), state.lowest_price),
        ("stop_loss_percent", money.percent(result.stop_loss_percent), state.stop_loss_percent),
    )
    return [(pk, column, new) for column, new, old in stored if new != old]


def _broadcast_prices(watchers: dict[int, set[str]], prices: dict[str, LatestPrice]) -> None:
    """One price_update_batch per agent, all sent in one trip to the channel layer."""
    entries: dict[str, realtime.PriceUpdate] = {
        mint: {
            "token_address": mint,
            "price_sol": money.as_str(latest.price_sol),
            "price_usd": money.as_str(latest.price_usd),
        }
        for mint, latest in prices.items()
    }
    with realtime.batched():
        for agent_id, tokens in watchers.items():
            realtime.price_update_batch(agent_id, [entries[mint] for mint in sorted(tokens)])
