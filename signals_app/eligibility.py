"""Which agents may trade a signal, and why not (trading-rules.md sections 2 and 8).

`agent_skip_reason` is pure over values the fan-out loads for all agents in a fixed number of
queries (and one token-metrics request per signal); it returns a machine-readable reason, or
None when the agent is eligible. `skip_details` adds the figures behind a reason, so the
operator can see why without re-deriving it. docs/risk.md lists every reason.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from agents.models import Agent
from prices.clients import TokenMetrics
from trading.rules.risk import KILL_SWITCH_REASONS


@dataclass(frozen=True, slots=True)
class SignalFacts:
    token_address: str
    signal_type: str
    signal_strength: int
    # None: not fetched (no candidate sets a bound) or Jupiter did not answer in time.
    token_metrics: TokenMetrics | None = None
    kill_switch: str = "off"
    # "buy" or "sell" (signals_app.models.SignalAction).
    action: str = "buy"
    # The signal is its agent's own (an AI strategist's), not one posted to every agent.
    from_strategist: bool = False


@dataclass(frozen=True, slots=True)
class AgentFacts:
    agent: Agent
    config: object  # agents.config.AgentConfig
    has_wallet: bool
    sol_balance: Decimal
    open_tokens: frozenset[str]
    # The agent's active risk pause as shown to the operator ({"pause_id", "reason", ...}).
    risk_pause: Mapping | None = None


# (metric, TokenMetrics attribute, config bound prefix, reason when out of bounds)
_METRIC_BOUNDS = (
    ("market_cap", "market_cap", "market_cap", "market_cap_out_of_range"),
    ("liquidity_usd", "liquidity_usd", "liquidity", "liquidity_out_of_range"),
    ("holder_count", "holder_count", "holder_count", "holder_count_out_of_range"),
)


def agent_skip_reason(signal: SignalFacts, facts: AgentFacts) -> str | None:
    for check in _SELL_CHECKS if signal.action == "sell" else _CHECKS:
        reason = check(signal, facts)
        if reason:
            return reason
    return None


def _kill_switch(signal: SignalFacts, facts: AgentFacts) -> str | None:
    return KILL_SWITCH_REASONS.get(signal.kill_switch)


def _halted(signal: SignalFacts, facts: AgentFacts) -> str | None:
    """A sell reduces exposure: only a full halt stops it."""
    return KILL_SWITCH_REASONS["halt"] if signal.kill_switch == "halt" else None


def _listening(signal: SignalFacts, facts: AgentFacts) -> str | None:
    """An agent takes posted signals, its AI strategist's, or both (signals.decision_source)."""
    source = facts.config.signals.decision_source
    if signal.from_strategist:
        return None if source in ("ai", "both") else "strategist_off"
    return None if source in ("posted", "both") else "posted_signals_off"


def agent_blocked_reason(facts: AgentFacts) -> str | None:
    """Why the agent cannot trade any signal now (inactive, automation off, no wallet,
    paused), or None."""
    agent = facts.agent
    if not agent.is_active:
        return "agent_inactive"
    if not agent.automated_trading_on(agent.trading_mode):
        return "automation_off"
    if not facts.has_wallet:
        return "no_wallet"
    # A paused agent is paused whatever the signal: that is the answer the operator needs.
    if facts.risk_pause is not None:
        return "risk_paused"
    return None


def _score_and_type(signal: SignalFacts, facts: AgentFacts) -> str | None:
    """A provider's score and type: the agent's own strategist is held to its risk manager
    instead (signals_app.strategist_rules)."""
    if signal.from_strategist:
        return None
    cfg = facts.config.signals
    if signal.signal_strength < cfg.min_score:
        return "below_min_score"
    if cfg.allowed_signal_types and signal.signal_type not in cfg.allowed_signal_types:
        return "signal_type_not_allowed"
    return None


def _signal_filters(signal: SignalFacts, facts: AgentFacts) -> str | None:
    cfg = facts.config.signals
    reason = _score_and_type(signal, facts)
    if reason:
        return reason
    if cfg.token_filter_mode == "blacklist" and signal.token_address in cfg.token_list:
        return "token_blacklisted"
    if cfg.token_filter_mode == "whitelist" and signal.token_address not in cfg.token_list:
        return "token_not_whitelisted"
    return None


def _token_metrics(signal: SignalFacts, facts: AgentFacts) -> str | None:
    """A bound that is set needs its metric: unknown is "not eligible" (section 2.4)."""
    bounds = facts.config.signals
    for _, attribute, prefix, out_of_range in _METRIC_BOUNDS:
        low, high = getattr(bounds, f"{prefix}_min"), getattr(bounds, f"{prefix}_max")
        if low is None and high is None:
            continue
        value = getattr(signal.token_metrics, attribute, None)
        if value is None:
            return "token_metrics_unknown"
        if (low is not None and value < low) or (high is not None and value > high):
            return out_of_range
    return None


def _holds_token(signal: SignalFacts, facts: AgentFacts) -> str | None:
    return None if signal.token_address in facts.open_tokens else "no_open_position"


def _sell_state(signal: SignalFacts, facts: AgentFacts) -> str | None:
    """An exit needs the agent active with automated trading on; a risk pause stops buys only."""
    reason = agent_blocked_reason(facts)
    return None if reason == "risk_paused" else reason


def _positions(signal: SignalFacts, facts: AgentFacts) -> str | None:
    if signal.token_address in facts.open_tokens:
        return "position_exists"
    if len(facts.open_tokens) >= facts.config.risk.max_open_positions:
        return "max_open_positions"
    return None


def _balance(signal: SignalFacts, facts: AgentFacts) -> str | None:
    if facts.sol_balance <= 0:
        return "insufficient_balance"
    if facts.sol_balance < facts.config.purchase_limits.minimum_agent_balance:
        return "insufficient_balance"
    return None


def _agent_state(signal: SignalFacts, facts: AgentFacts) -> str | None:
    return agent_blocked_reason(facts)


_CHECKS: tuple[Callable[[SignalFacts, AgentFacts], str | None], ...] = (
    _kill_switch,
    _listening,
    _agent_state,
    _signal_filters,
    _token_metrics,
    _positions,
    _balance,
)
# A sell signal: the agent must take it and hold the token; its buy filters (scores and types
# aside) and its balance do not matter to an exit.
_SELL_CHECKS: tuple[Callable[[SignalFacts, AgentFacts], str | None], ...] = (
    _halted,
    _listening,
    _sell_state,
    _score_and_type,
    _holds_token,
)


def agent_could_buy(signal: SignalFacts, facts: AgentFacts) -> bool:
    """Whether the agent passes every check that needs neither the token's metrics nor its
    risk guards: an early answer, for work worth starting only if some agent may buy."""
    return all(check(signal, facts) is None for check in _CHECKS if check is not _token_metrics)


def metric_bounds_set(config) -> bool:
    bounds = config.signals
    return any(
        getattr(bounds, f"{prefix}_{end}") is not None
        for _, _, prefix, _ in _METRIC_BOUNDS
        for end in ("min", "max")
    )


def skip_details(reason: str, signal: SignalFacts, facts: AgentFacts) -> dict:
    """The figures behind a skip reason, JSON-ready; {} when the reason says it all."""
    if reason in KILL_SWITCH_REASONS.values():
        return {"kill_switch": signal.kill_switch}
    if reason == "risk_paused":
        return dict(facts.risk_pause or {})
    if reason == "token_metrics_unknown" or reason.endswith("_out_of_range"):
        return _metric_details(signal.token_metrics, facts.config.signals)
    if reason == "max_open_positions":
        return {
            "open_positions": len(facts.open_tokens),
            "max_open_positions": facts.config.risk.max_open_positions,
        }
    if reason == "insufficient_balance":
        return {
            "sol_balance": str(facts.sol_balance),
            "minimum_agent_balance": str(facts.config.purchase_limits.minimum_agent_balance),
        }
    return {}


def _metric_details(metrics: TokenMetrics | None, bounds) -> dict:
    details = {}
    for name, attribute, prefix, _ in _METRIC_BOUNDS:
        low, high = getattr(bounds, f"{prefix}_min"), getattr(bounds, f"{prefix}_max")
        if low is None and high is None:
            continue
        value = getattr(metrics, attribute, None)
        details[name] = {
            "value": None if value is None else str(value),
            "min": None if low is None else str(low),
            "max": None if high is None else str(high),
        }
    return details
