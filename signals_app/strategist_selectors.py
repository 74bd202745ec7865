"""What the AI strategist reads from the database for a cycle: which agents are due, the
agent's account and positions, its own results as feedback, the tokens of recent posted
signals, and the engine's own price samples as candles. Market data from outside (DexScreener)
is fetched by the cycle itself (signals_app.strategist_services)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Max, Prefetch, Q, QuerySet

from agents.config import AgentConfig, ConfigValidationError, agent_config
from agents.models import Agent
from nexgent.money import as_str
from prices.models import PriceSample
from signals_app.models import LlmCredential, StrategistCycle, StrategistDecision, TradingSignal
from signals_app.strategist_rules import Candle, bucket_candles
from trading.history_selectors import close_reason_label
from trading.models import ClosedTrade, Position, PositionStatus
from trading.performance_selectors import performance_report
from trading.rules.performance import TradeResult, TradeStats, trade_stats
from trading.selectors import sol_balance, stop_price
from wallets.models import AgentWallet

# Tokens of posted signals younger than this are candidates.
SIGNAL_CANDIDATE_WINDOW = timedelta(hours=24)
# Best and worst tokens shown as feedback, over this window.
TOKEN_RESULTS_WINDOW = timedelta(days=30)
TOKEN_RESULTS_SHOWN = 3
# One candle per this many seconds of price samples: two hours are 24 candles, enough for
# RSI(14), EMA(21) and ATR(14).
CANDLE_SECONDS = 300
CANDLES_KEY = "strategist:candles:{}"
# Kept longer than any history window a config may ask for is not needed: a day.
CANDLES_KEPT_SECONDS = 86400
STRATEGIST_SOURCES = ("ai", "both")


def strategist_agents() -> list[tuple[Agent, AgentConfig]]:
    """Every active agent whose config takes its AI strategist's decisions, with its config;
    an agent whose stored config cannot be read is left out (the fan-out reports it)."""
    found = []
    agents = Agent.objects.filter(
        is_active=True, config__signals__decision_source__in=STRATEGIST_SOURCES
    ).order_by("pk")
    for agent in agents:
        try:
            config = agent_config(agent.config)
        except ConfigValidationError:
            continue
        if agent.automated_trading_on(agent.trading_mode):
            found.append((agent, config))
    return found


def last_slots(agent_ids: list[int]) -> dict[int, datetime]:
    """The slot of each agent's latest cycle, in one query."""
    rows = (
        StrategistCycle.objects.filter(agent_id__in=agent_ids)
        .values("agent_id")
        .annotate(last=Max("slot"))
        .order_by()
    )
    return {row["agent_id"]: row["last"] for row in rows}


def credential_of(owner_id: int) -> LlmCredential | None:
    return LlmCredential.objects.filter(owner_id=owner_id).first()


def tokens_spent_since(agent_id: int, since: datetime) -> tuple[int, Decimal]:
    """Tokens (prompt + completion) and USD the agent's cycles spent since `since`."""
    tokens, cost = 0, Decimal(0)
    rows = StrategistCycle.objects.filter(agent_id=agent_id, started_at__gte=since).values_list(
        "prompt_tokens", "completion_tokens", "cost_usd"
    )
    for prompt, completion, usd in rows:
        tokens += prompt + completion
        cost += usd
    return tokens, cost


@dataclass(frozen=True)
class Account:
    wallet: AgentWallet
    sol_free: Decimal
    positions: list[Position]


def account_of(agent: Agent) -> Account | None:
    """The wallet of the agent's trading mode, its free SOL and open positions; None without
    a wallet for the mode."""
    wallet = AgentWallet.objects.filter(agent=agent, mode=agent.trading_mode).first()
    if wallet is None:
        return None
    positions = list(
        Position.objects.filter(wallet=wallet, status=PositionStatus.OPEN).order_by("pk")
    )
    return Account(wallet, sol_balance(wallet.pk), positions)


def position_facts(position: Position, price: Decimal | None, now: datetime) -> dict:
    """An open position as the model sees it."""
    pnl = None
    if price is not None and position.purchase_price > 0:
        pnl = (price - position.purchase_price) / position.purchase_price * 100
    return {
        "token_address": position.token_address,
        "symbol": position.token_symbol,
        "entry_price": as_str(position.purchase_price),
        "current_price": as_str(price) if price is not None else None,
        "pnl_percent": format(pnl.quantize(Decimal("0.01")), "f") if pnl is not None else None,
        "invested_sol": as_str(position.total_invested_sol),
        "hold_minutes": int((now - position.opened_at).total_seconds() // 60),
        "stop_price": as_str(stop_price(position)),
        "dca_count": position.dca_count,
    }


def feedback(wallet: AgentWallet, *, trades_shown: int, now: datetime) -> dict:
    """The agent's own results, fed back to the model: headline figures, best and worst tokens
    of the last 30 days, and its last trades with their close reasons."""
    report = performance_report(wallet=wallet, timeframe="all", now=now)
    trades = report["trades"]
    recent = list(
        ClosedTrade.objects.filter(wallet=wallet)
        .select_related("position__signal")
        .order_by("-closed_at", "-pk")[:trades_shown]
    )
    return {
        "equity_sol": report["equity_sol"],
        "realised_pnl_sol": report["realised_pnl_sol"],
        "trades": trades["count"],
        "win_rate_percent": trades["win_rate_percent"],
        "profit_factor": trades["profit_factor"],
        "average_return_percent": trades["average_return_percent"],
        "sharpe_ratio": report["sharpe_ratio"],
        "max_drawdown_percent": report["max_drawdown_percent"],
        **_token_results(wallet, now),
        "last_trades": [_trade_facts(trade) for trade in recent],
    }


def _trade_facts(trade: ClosedTrade) -> dict:
    signal = trade.position.signal if trade.position_id else None
    return {
        "symbol": trade.token_symbol,
        "token_address": trade.token_address,
        "profit_loss_sol": as_str(trade.profit_loss_sol),
        "change_percent": as_str(trade.change_percent),
        "close_reason": close_reason_label(trade.close_reason, trade.profit_loss_sol),
        "hold_minutes": int((trade.closed_at - trade.opened_at).total_seconds() // 60),
        "opened_by": "ai" if signal is not None and signal.agent_id else "signal",
        "closed_at": trade.closed_at.isoformat(),
    }


def _token_results(wallet: AgentWallet, now: datetime) -> dict:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    symbols: dict[str, str] = {}
    rows = ClosedTrade.objects.filter(
        wallet=wallet, closed_at__gte=now - TOKEN_RESULTS_WINDOW
    ).values_list("token_address", "token_symbol", "profit_loss_sol")
    for mint, symbol, pnl in rows:
        totals[mint] += pnl
        symbols[mint] = symbol
    ranked = sorted(totals.items(), key=lambda item: (item[1], item[0]))

    def shown(items):
        return [
            {"token_address": mint, "symbol": symbols[mint], "profit_loss_sol": as_str(pnl)}
            for mint, pnl in items
        ]

    return {
        "best_tokens": shown(
            [item for item in reversed(ranked) if item[1] > 0][:TOKEN_RESULTS_SHOWN]
        ),
        "worst_tokens": shown([item for item in ranked if item[1] < 0][:TOKEN_RESULTS_SHOWN]),
    }


def signal_tokens(owner_id: int, *, since: datetime, limit: int) -> list[tuple[str, str]]:
    """(mint, symbol) of the owner's most recent posted buy signals' tokens, newest first,
    each once."""
    seen: dict[str, str] = {}
    rows = (
        TradingSignal.objects.filter(
            owner_id=owner_id, agent__isnull=True, action="buy", created_at__gte=since
        )
        .order_by("-created_at", "-pk")
        .values_list("token_address", "symbol")
    )
    for mint, symbol in rows.iterator(chunk_size=500):
        if mint not in seen:
            seen[mint] = symbol
            if len(seen) >= limit:
                break
    return list(seen.items())


def price_candles(mints: list[str], *, since: datetime) -> dict[str, list[Candle]]:
    """Five-minute candles of each token from the engine's own price samples since `since`,
    oldest first, in one query.

    Built candles are kept in the cache per token (every agent's cycle shows the same tokens):
    a token seen before is read again only from the start of its last candle, which may still
    have been growing. A sample recorded late, with a time inside a candle already kept, is
    not in that candle: the indicators are features for the model, not money."""
    first_bucket = _bucket(since)
    kept = cache.get_many([CANDLES_KEY.format(mint) for mint in mints])
    series: dict[str, list[tuple[int, Candle]]] = {}
    read_from: dict[str, int] = {}
    for mint in mints:
        candles_kept = [
            item for item in kept.get(CANDLES_KEY.format(mint), []) if item[0] >= first_bucket
        ]
        if candles_kept and kept[CANDLES_KEY.format(mint)][0][0] <= first_bucket:
            # The last kept candle is read again in full: it may have grown since.
            series[mint] = candles_kept[:-1]
            read_from[mint] = candles_kept[-1][0]
        else:
            series[mint] = []
            read_from[mint] = first_bucket
    samples = _samples(read_from)
    for mint in mints:
        series[mint] += bucket_candles(samples.get(mint, []))
    cache.set_many(
        {CANDLES_KEY.format(mint): items for mint, items in series.items() if items},
        timeout=CANDLES_KEPT_SECONDS,
    )
    return {mint: [candle for _, candle in items] for mint, items in series.items() if items}


def _bucket(moment: datetime) -> int:
    return int(moment.timestamp()) // CANDLE_SECONDS


def _samples(read_from: dict[str, int]) -> dict[str, list[tuple[int, Decimal]]]:
    """(bucket, price) samples of each token from its bucket on, in time order: one query."""
    if not read_from:
        return {}
    ranges = Q()
    for mint, bucket in read_from.items():
        start = datetime.fromtimestamp(bucket * CANDLE_SECONDS, tz=UTC)
        ranges |= Q(token_address=mint, observed_at__gte=start)
    samples: dict[str, list[tuple[int, Decimal]]] = defaultdict(list)
    rows = (
        PriceSample.objects.filter(ranges)
        .order_by("token_address", "observed_at")
        .values_list("token_address", "price_sol", "observed_at")
    )
    for mint, price, observed_at in rows.iterator(chunk_size=2000):
        samples[mint].append((_bucket(observed_at), price))
    return samples


# --- What the API and the dashboard show of the strategist's cycles ----------------------------


def cycles_list(agent_id: int, *, status: str | None = None) -> QuerySet[StrategistCycle]:
    """The agent's cycles newest first, each with its decisions in order (one query for the
    cycles, one for all their decisions). The prompt and raw answer, large and shown only on a
    cycle's own page, are left unread."""
    rows = StrategistCycle.objects.filter(agent_id=agent_id).defer("prompt", "raw_answer")
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-started_at", "-id").prefetch_related(_decisions_in_order())


def cycle_detail(agent_id: int, cycle_id: int) -> StrategistCycle | None:
    return (
        StrategistCycle.objects.filter(agent_id=agent_id, pk=cycle_id)
        .prefetch_related(_decisions_in_order())
        .first()
    )


def _decisions_in_order() -> Prefetch:
    # The position and signal come along for the token's symbol on the dashboard.
    return Prefetch(
        "decisions",
        queryset=StrategistDecision.objects.select_related("position", "signal").order_by("index"),
    )


@dataclass(frozen=True)
class OpenerSplit:
    """An agent's closed trades split by who opened them: its AI strategist (a signal for the
    agent alone) or anything else (posted signals, manual buys)."""

    strategist: TradeStats
    others: TradeStats


def trades_by_opener(agent: Agent) -> OpenerSplit:
    """Win rate and realised P/L of the strategist's trades beside the agent's others, in its
    trading mode, in one query."""
    groups: dict[bool, list[TradeResult]] = {True: [], False: []}
    rows = (
        ClosedTrade.objects.filter(agent=agent, wallet__mode=agent.trading_mode)
        .order_by()
        .values_list(
            "profit_loss_sol", "change_percent", "close_reason", "position__signal__agent_id"
        )
    )
    for pnl, change, reason, signal_agent in rows:
        groups[signal_agent is not None].append(TradeResult(pnl, change, reason))
    return OpenerSplit(strategist=trade_stats(groups[True]), others=trade_stats(groups[False]))
