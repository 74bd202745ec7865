"""Strategy preview and backtest: one position replayed along a price path.

The rules are the live engine's own: every point after the first goes through
`trading.rules.tick.evaluate_tick`, and each action it returns is applied to a simulated
position the way `trading.services` applies it to a real one (same quantisation, same order,
same take-profit batch restart after a DCA buy). Only the fill differs: it is at the given
price, with no price impact, and with fees only when they are asked for.

`replay` touches no database. `parse_preview_request` turns an API body into its arguments,
naming every bad field, and `result_json` is the response both the API and `manage.py
backtest` print.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings

from agents.config import ConfigValidationError, effective_config, merge_overrides, to_rule_config
from nexgent import inputs, money
from nexgent.api import DomainError
from trading.rules.config import RuleConfig
from trading.rules.dca import average_after_buy
from trading.rules.exits import Action, ActionKind, CloseReason, PositionState
from trading.rules.fees import network_fee_sol, protocol_fee_sol
from trading.rules.pnl import full_close_pnl
from trading.rules.stop_loss import stop_price_for
from trading.rules.take_profit import reset_after_dca
from trading.rules.tick import evaluate_tick

BUY = "buy"
ACTION_KINDS = (BUY, *ActionKind)
DEFAULT_BUY_SOL = Decimal(1)
MAX_PRICE_POINTS = 100_000
MAX_BUY_SOL = inputs.MAX_SOL
MAX_PROTOCOL_FEE_BPS = 1000  # the simulated venue's own ceiling (settings.SIM_PROTOCOL_FEE_BPS)
MAX_NETWORK_FEE_LAMPORTS = 10**9
# A body with thousands of bad points gets the first problems, not a reply as large as itself.
MAX_DETAILS = 20


class PricePoint(NamedTuple):
    t: datetime
    price: Decimal


@dataclass(frozen=True, slots=True)
class Fees:
    protocol_fee_bps: int = 0
    network_fee_lamports: int = 0


NO_FEES = Fees()


def simulated_venue_fees() -> Fees:
    """The fees the simulated venue charges on every fill (trading-rules.md section 7)."""
    return Fees(
        protocol_fee_bps=settings.SIM_PROTOCOL_FEE_BPS,
        network_fee_lamports=settings.SIM_SIGNATURE_FEE_LAMPORTS
        + settings.SIM_PRIORITY_FEE_LAMPORTS
        + settings.SIM_RENT_FEE_LAMPORTS,
    )


@dataclass(frozen=True, slots=True)
class ReplayAction:
    index: int
    t: datetime
    kind: str
    price: Decimal
    tokens: Decimal
    # SOL debited for a buy (fees included), net SOL credited for a sale.
    sol: Decimal
    # The stop in force once the action is done; None when the stop loss is disabled.
    stop_loss_percent: Decimal | None
    stop_price: Decimal | None
    reason: str


@dataclass(frozen=True, slots=True)
class ReplaySummary:
    tokens_held: Decimal
    sol_invested: Decimal
    sol_received: Decimal
    profit_loss_sol: Decimal
    closed: bool
    close_reason: str | None


class ReplayResult(NamedTuple):
    actions: tuple[ReplayAction, ...]
    final: ReplaySummary


class ReplayInputError(ValueError):
    """Input the replay cannot run on, named as the preview request names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(slots=True)
class _Position:
    """The columns of `trading.models.Position` that the rules read or the executor writes."""

    purchase_price: Decimal
    total_invested_sol: Decimal
    total_tokens_bought: Decimal
    remaining_amount: Decimal
    peak_price: Decimal
    lowest_price: Decimal
    stop_loss_percent: Decimal
    opened_at: datetime
    take_profit_levels_hit: int = 0
    take_profit_batch_start: int = 0
    take_profit_total_levels: int = 0
    moon_bag_activated: bool = False
    moon_bag_amount: Decimal = money.ZERO
    dca_count: int = 0
    last_dca_at: datetime | None = None
    realized_sol: Decimal = money.ZERO
    close_reason: str | None = None

    def state(self) -> PositionState:
        return PositionState(
            purchase_price=self.purchase_price,
            total_invested_sol=self.total_invested_sol,
            total_tokens_bought=self.total_tokens_bought,
            remaining_amount=self.remaining_amount,
            peak_price=self.peak_price,
            lowest_price=self.lowest_price,
            stop_loss_percent=self.stop_loss_percent,
            take_profit_levels_hit=self.take_profit_levels_hit,
            take_profit_batch_start=self.take_profit_batch_start,
            take_profit_total_levels=self.take_profit_total_levels,
            moon_bag_activated=self.moon_bag_activated,
            moon_bag_amount=self.moon_bag_amount,
            dca_count=self.dca_count,
            last_dca_at=self.last_dca_at,
            opened_at=self.opened_at,
        )

    @property
    def closed(self) -> bool:
        return self.close_reason is not None


@dataclass(frozen=True, slots=True)
class _Tick:
    """What every action of one tick shares."""

    rules: RuleConfig
    index: int
    t: datetime
    price: Decimal
    fees: Fees
    take_profit_levels: int


# --- The replay ---------------------------------------------------------------------------------


def rule_config(overrides: Mapping) -> RuleConfig:
    """The rules of a partial agent config merged over the defaults, as the API merges a PUT
    body (`null` resets a key). Raises ConfigValidationError naming every bad field."""
    return to_rule_config(effective_config(merge_overrides({}, dict(overrides))))


def replay(
    config: RuleConfig | Mapping,
    *,
    buy_sol: Decimal,
    prices: Sequence[tuple[datetime, Decimal]],
    fees: Fees = NO_FEES,
) -> ReplayResult:
    """Buy `buy_sol` SOL at the first price, then run the live rules on every later point
    until the position closes or the path ends. Raises ReplayInputError for a path or size
    it cannot run on, ConfigValidationError for a bad config dict."""
    rules = config if isinstance(config, RuleConfig) else rule_config(config)
    path = [PricePoint(t, price) for t, price in prices]
    problems = _path_problems(path)
    if problems:
        raise ReplayInputError(problems[0]["field"], problems[0]["message"])
    if buy_sol <= 0:
        raise ReplayInputError("buy_sol", "must be greater than 0")
    take_profit_levels = len(rules.take_profit.resolved()[0])
    position, bought = _open(rules, buy_sol, path[0], fees, take_profit_levels)
    actions = [bought]
    for index in range(1, len(path)):
        if position.closed:
            break
        t, price = path[index]
        tick = _Tick(rules, index, t, price, fees, take_profit_levels)
        actions.extend(_run_tick(tick, position))
    return ReplayResult(tuple(actions), _summary(position, path[-1].price))


def _path_problems(path: Sequence[PricePoint]) -> list[dict[str, str]]:
    """Every point the replay cannot use: none at all, a time without a zone or not after the
    one before it, a price that is not positive. (The point cap bounds a request's size, not
    what a replay can do, so it is checked where requests are parsed.)"""
    if not path:
        return [_detail("prices", "must hold at least one point")]
    problems = []
    previous = None
    for index, (t, price) in enumerate(path):
        if t.utcoffset() is None:
            problems.append(_detail(f"prices[{index}].t", "must include a timezone"))
        elif previous is not None and t <= previous:
            problems.append(_detail(f"prices[{index}].t", "must be later than the point before"))
        if price <= 0:
            problems.append(_detail(f"prices[{index}].price", "must be greater than 0"))
        previous = t if t.utcoffset() is not None else previous
    return problems


def _open(
    rules: RuleConfig, buy_sol: Decimal, point: PricePoint, fees: Fees, take_profit_levels: int
) -> tuple[_Position, ReplayAction]:
    """The buy at the first point, recorded like `services.position_record_buy`."""
    swapped = _whole_lamports(buy_sol)
    tokens = money.amount(swapped / point.price)
    if tokens <= 0:
        raise ReplayInputError("buy_sol", "buys no tokens at the first price")
    debit = money.amount(swapped + _fee(swapped, fees))
    price = money.price(point.price)
    batch_start, total_levels = reset_after_dca(0, take_profit_levels)
    position = _Position(
        purchase_price=price,
        total_invested_sol=debit,
        total_tokens_bought=tokens,
        remaining_amount=tokens,
        peak_price=price,
        lowest_price=price,
        # Like a signal's buy: a new position starts at the default stop.
        stop_loss_percent=money.percent(rules.stop_loss.default_percentage),
        opened_at=point.t,
        take_profit_batch_start=batch_start,
        take_profit_total_levels=total_levels,
    )
    tick = _Tick(rules, 0, point.t, point.price, fees, take_profit_levels)
    return position, _reported(tick, position, BUY, tokens, debit, "initial buy")


def _run_tick(tick: _Tick, position: _Position) -> list[ReplayAction]:
    result = evaluate_tick(tick.rules, position.state(), tick.price, tick.t)
    # What the live tick persists for every position, acted on or not.
    position.peak_price = money.price(result.peak_price)
    position.lowest_price = money.price(result.lowest_price)
    position.stop_loss_percent = money.percent(result.stop_loss_percent)
    done = []
    for action in result.actions:
        applied = _apply(tick, position, action)
        if applied is not None:
            done.append(applied)
        if position.closed:
            break
    return done


# --- Applying actions, as trading.services does ---------------------------------------------------


def _take_profit(tick: _Tick, position: _Position, action: Action) -> ReplayAction | None:
    """`services.position_take_profit`: a dust close sells everything; the last sale closes."""
    remaining = position.remaining_amount
    sold = remaining if action.close_position else min(money.amount(action.token_amount), remaining)
    if sold <= 0:
        return None
    net = _sale_proceeds(sold, tick)
    position.take_profit_levels_hit = action.new_levels_hit
    if action.activate_moon_bag:
        position.moon_bag_activated = True
        position.moon_bag_amount = money.amount(action.moon_bag_amount)
    if sold == remaining:
        _close(position, net, CloseReason.TAKE_PROFIT.value)
    else:
        position.remaining_amount = money.amount(remaining - sold)
        position.realized_sol = money.amount(position.realized_sol + net)
    return _reported(tick, position, action.kind, sold, net, action.reason)


def _exit(tick: _Tick, position: _Position, action: Action) -> ReplayAction:
    """`services.position_close`: everything still held goes, the moon bag included."""
    sold = position.remaining_amount
    net = _sale_proceeds(sold, tick)
    _close(position, net, action.kind.close_reason.value)
    return _reported(tick, position, action.kind, sold, net, action.reason)


def _dca_buy(tick: _Tick, position: _Position, action: Action) -> ReplayAction | None:
    """`services.position_dca_buy`, without a wallet to run dry: the average is everything
    invested (fees included) over every token bought, and take profit restarts from its
    first level."""
    swapped = _whole_lamports(money.amount(action.sol_amount))
    if swapped <= 0:
        return None
    tokens = money.amount(swapped / tick.price)
    debit = money.amount(swapped + _fee(swapped, tick.fees))
    average = average_after_buy(
        existing_sol=position.total_invested_sol,
        existing_tokens=position.total_tokens_bought,
        new_sol=debit,
        new_tokens=tokens,
    )
    position.total_invested_sol = money.amount(average.total_invested_sol)
    position.total_tokens_bought = money.amount(average.total_tokens)
    position.purchase_price = money.price(average.average_price)
    position.remaining_amount = money.amount(position.remaining_amount + tokens)
    position.dca_count += 1
    position.last_dca_at = tick.t
    position.take_profit_batch_start, position.take_profit_total_levels = reset_after_dca(
        position.take_profit_levels_hit, tick.take_profit_levels
    )
    return _reported(tick, position, action.kind, tokens, debit, action.reason)


def _apply(tick: _Tick, position: _Position, action: Action) -> ReplayAction | None:
    if action.kind == ActionKind.TAKE_PROFIT_SELL:
        return _take_profit(tick, position, action)
    if action.kind == ActionKind.DCA_BUY:
        return _dca_buy(tick, position, action)
    if action.kind.sells_everything:
        return _exit(tick, position, action)
    raise ValueError(f"the replay cannot apply a {action.kind} action")


def _close(position: _Position, net: Decimal, reason: str) -> None:
    position.realized_sol = money.amount(position.realized_sol + net)
    position.remaining_amount = money.ZERO
    position.close_reason = reason


def _sale_proceeds(tokens: Decimal, tick: _Tick) -> Decimal:
    swapped = _whole_lamports(tokens * tick.price)
    return money.amount(swapped - _fee(swapped, tick.fees))


def _whole_lamports(sol: Decimal) -> Decimal:
    # A swap moves whole lamports, like the venue's quote: never more than asked for.
    return money.lamports_to_sol(money.sol_to_lamports(sol))


def _fee(swapped_sol: Decimal, fees: Fees) -> Decimal:
    """Protocol fee on the SOL side plus the network fee, as the simulated venue charges them."""
    lamports = money.sol_to_lamports(swapped_sol)
    protocol = protocol_fee_sol(fees.protocol_fee_bps, money.WSOL_MINT, lamports) or money.ZERO
    return protocol + network_fee_sol(fees.network_fee_lamports, 0, 0)


def _reported(
    tick: _Tick, position: _Position, kind: str, tokens: Decimal, sol: Decimal, reason: str
) -> ReplayAction:
    stop_percent = stop_price = None
    if tick.rules.stop_loss.enabled:
        stop_percent = position.stop_loss_percent
        stop_price = stop_price_for(position.purchase_price, stop_percent)
    return ReplayAction(
        tick.index, tick.t, kind, tick.price, tokens, sol, stop_percent, stop_price, reason
    )


def _summary(position: _Position, last_price: Decimal) -> ReplaySummary:
    """Cash-flow P/L of a closed position (trading-rules.md section 7). An open one is valued
    as if its tokens sold at the last price, before a sale's fees, so a path that ends in
    profit does not read as a loss."""
    held_value = money.ZERO if position.closed else position.remaining_amount * last_price
    pnl = full_close_pnl(
        invested_sol=position.total_invested_sol,
        received_sol=position.realized_sol + held_value,
        cost_basis_sol=position.purchase_price * position.total_tokens_bought,
        sol_usd=None,
    )
    return ReplaySummary(
        tokens_held=position.remaining_amount,
        sol_invested=position.total_invested_sol,
        sol_received=position.realized_sol,
        profit_loss_sol=money.amount(pnl.profit_loss_sol),
        closed=position.closed,
        close_reason=position.close_reason,
    )


# --- Output -----------------------------------------------------------------------------------------


def result_json(result: ReplayResult) -> dict:
    """The response of POST /api/v1/strategy/preview; decimals as strings, times in UTC."""
    final = result.final
    return {
        "actions": [_action_json(action) for action in result.actions],
        "final": {
            "tokens_held": money.as_str(final.tokens_held),
            "sol_invested": money.as_str(final.sol_invested),
            "sol_received": money.as_str(final.sol_received),
            "profit_loss_sol": money.as_str(final.profit_loss_sol),
            "closed": final.closed,
            "close_reason": final.close_reason,
        },
    }


def _action_json(action: ReplayAction) -> dict:
    return {
        "index": action.index,
        "t": _iso_utc(action.t),
        "kind": action.kind,
        "price": money.as_str(action.price),
        "tokens": money.as_str(action.tokens),
        "sol": money.as_str(action.sol),
        "stop_loss_percent": money.as_str(action.stop_loss_percent),
        "stop_price": money.as_str(action.stop_price),
        "reason": action.reason,
    }


def _iso_utc(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- Input ------------------------------------------------------------------------------------------


class PreviewInput(NamedTuple):
    rules: RuleConfig
    buy_sol: Decimal
    prices: tuple[PricePoint, ...]
    fees: Fees


_REQUEST_FIELDS = {"config", "buy_sol", "prices", "fees"}


def parse_preview_request(body: object, *, venue_fees: Fees) -> PreviewInput:
    """The replay's arguments from a preview body. Raises DomainError (400, validation_error)
    naming every bad field. `venue_fees` fills in a fee the body's `fees` object leaves out."""
    if not isinstance(body, dict):
        raise _invalid([_detail("", "must be a JSON object")])
    problems = [_detail(key, "unknown field") for key in body if key not in _REQUEST_FIELDS]
    config = body.get("config")
    rules = _collect(problems, parse_config, {} if config is None else config)
    buy_sol = _collect(problems, parse_buy_sol, body.get("buy_sol"))
    prices = _collect(problems, parse_prices, body.get("prices"))
    fees = _collect(problems, lambda value: parse_fees(value, venue_fees), body.get("fees"))
    if problems:
        raise _invalid(_capped(problems))
    return PreviewInput(rules, buy_sol, prices, fees)


def parse_config(value: object) -> RuleConfig:
    if not isinstance(value, dict):
        raise _invalid([_detail("config", "must be a JSON object")])
    try:
        return rule_config(value)
    except ConfigValidationError as error:
        raise _invalid(
            [
                _detail(f"config.{item['field']}" if item["field"] else "config", item["message"])
                for item in error.details
            ]
        ) from None


def parse_buy_sol(value: object) -> Decimal:
    """SOL to spend on the first buy; 1 when absent. Whole lamports at most."""
    if value is None:
        return DEFAULT_BUY_SOL
    number, problem = _decimal(value)
    if problem is None and number <= 0:
        problem = "must be greater than 0"
    elif problem is None and number > MAX_BUY_SOL:
        problem = f"must be at most {MAX_BUY_SOL}"
    elif problem is None and money.lamports_to_sol(money.sol_to_lamports(number)) != number:
        problem = f"must have at most {money.SOL_DECIMALS} decimal places (whole lamports)"
    if problem is not None:
        raise _invalid([_detail("buy_sol", problem)])
    return number


def parse_prices(value: object) -> tuple[PricePoint, ...]:
    if not isinstance(value, list):
        raise _invalid([_detail("prices", "must be a list of {t, price} objects")])
    if len(value) > MAX_PRICE_POINTS:
        raise _invalid([_detail("prices", f"must hold at most {MAX_PRICE_POINTS} points")])
    points, problems = [], []
    for index, item in enumerate(value):
        point = _price_point(index, item, problems)
        if point is not None:
            points.append(point)
    if not problems:
        problems = _path_problems(points)
    if problems:
        raise _invalid(problems)
    return tuple(points)


def parse_time(value: object) -> datetime | str:
    """An aware datetime from ISO 8601 text, or the reason it is not one."""
    if not isinstance(value, str):
        return "must be an ISO 8601 string"
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return "is not an ISO 8601 date and time"
    if parsed.utcoffset() is None:
        return "must include a timezone, e.g. 2026-01-01T00:00:00Z"
    return parsed


def parse_fees(value: object, venue_fees: Fees) -> Fees:
    """No `fees` (or null): fills are free. An object: the fees it names, and the simulated
    venue's for those it leaves out, so `{}` means "as the simulated venue charges"."""
    if value is None:
        return NO_FEES
    if not isinstance(value, dict):
        raise _invalid([_detail("fees", "must be a JSON object")])
    problems = [_detail(f"fees.{key}", "unknown field") for key in value if key not in _FEE_LIMITS]
    values = {}
    for key, ceiling in _FEE_LIMITS.items():
        if key not in value:
            values[key] = getattr(venue_fees, key)
            continue
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, int | Decimal):
            problems.append(_detail(f"fees.{key}", "must be an integer"))
        # The range first: turning 1E+999999999 into an int would take all the memory there is.
        elif not 0 <= number <= ceiling or number != Decimal(number).to_integral_value():
            problems.append(_detail(f"fees.{key}", f"must be an integer from 0 to {ceiling}"))
        else:
            values[key] = int(number)
    if problems:
        raise _invalid(problems)
    return Fees(**values)


_FEE_LIMITS = {
    "protocol_fee_bps": MAX_PROTOCOL_FEE_BPS,
    "network_fee_lamports": MAX_NETWORK_FEE_LAMPORTS,
}


def _price_point(index: int, item: object, problems: list) -> PricePoint | None:
    if not isinstance(item, dict):
        problems.append(_detail(f"prices[{index}]", "must be an object with t and price"))
        return None
    extra = [key for key in item if key not in ("t", "price")]
    problems.extend(_detail(f"prices[{index}].{key}", "unknown field") for key in extra)
    t = parse_time(item.get("t"))
    if isinstance(t, str):
        problems.append(_detail(f"prices[{index}].t", t))
    price, problem = _decimal(item.get("price"))
    if problem is None and price <= 0:
        problem = "must be greater than 0"
    elif problem is None and -price.normalize().as_tuple().exponent > money.PRICE_PLACES:
        problem = f"must have at most {money.PRICE_PLACES} decimal places"
    if problem is not None:
        problems.append(_detail(f"prices[{index}].price", problem))
    if isinstance(t, str) or problem is not None or extra:
        return None
    return PricePoint(t, price)


def _decimal(value: object) -> tuple[Decimal, str | None]:
    """A finite Decimal of sane size from a number or numeric string, or the reason why not."""
    try:
        return inputs.parse_number(value), None
    except ValueError as problem:
        return money.ZERO, str(problem)


def _collect(problems: list, parse, value):
    """parse(value), or None with its problems added to the list."""
    try:
        return parse(value)
    except DomainError as error:
        problems.extend(error.details)
        return None


def _detail(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _capped(problems: list[dict[str, str]]) -> list[dict[str, str]]:
    if len(problems) <= MAX_DETAILS:
        return problems
    more = _detail("", f"and {len(problems) - MAX_DETAILS} more problems")
    return [*problems[:MAX_DETAILS], more]


def _invalid(problems: list[dict[str, str]]) -> DomainError:
    fields = sorted({item["field"] for item in problems if item["field"]})
    message = "Invalid input: " + ", ".join(fields) if fields else problems[0]["message"]
    return DomainError(message, code="validation_error", details=problems)
