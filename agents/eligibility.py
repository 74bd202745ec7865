"""Which agents may trade a signal, and why not (trading-rules.md section 2).

`agent_skip_reason` is pure over values the fan-out loads for all agents in a few queries;
it returns a machine-readable reason, or None when the agent is eligible.
"""

from dataclasses import dataclass
from decimal import Decimal

from agents.models import Agent


@dataclass(frozen=True, slots=True)
class SignalFacts:
    token_address: str
    signal_type: str
    signal_strength: int


@dataclass(frozen=True, slots=True)
class AgentFacts:
    agent: Agent
    config: object  # agents.config.AgentConfig
    has_wallet: bool
    sol_balance: Decimal
    open_tokens: frozenset[str]


def agent_skip_reason(signal: SignalFacts, facts: AgentFacts) -> str | None:
    agent, cfg = facts.agent, facts.config
    mode = agent.trading_mode
    checks = (
        (not agent.is_active, "agent_inactive"),
        (not agent.automated_trading_on(mode), "automation_off"),
        (not facts.has_wallet, "no_wallet"),
        (mode == "live", "live_trading_unavailable"),
        (signal.signal_strength < cfg.signals.min_score, "below_min_score"),
        (not _type_allowed(cfg, signal.signal_type), "signal_type_not_allowed"),
        (
            _token_filtered(cfg, signal.token_address),
            "token_blacklisted"
            if cfg.signals.token_filter_mode == "blacklist"
            else "token_not_whitelisted",
        ),
        (_metric_bounds_set(cfg), "token_metrics_unknown"),
        (signal.token_address in facts.open_tokens, "position_exists"),
        (len(facts.open_tokens) >= cfg.risk.max_open_positions, "max_open_positions"),
        (facts.sol_balance <= 0, "insufficient_balance"),
        (facts.sol_balance < cfg.purchase_limits.minimum_agent_balance, "insufficient_balance"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    return None


def _type_allowed(cfg, signal_type: str) -> bool:
    allowed = cfg.signals.allowed_signal_types
    return not allowed or signal_type in allowed


def _token_filtered(cfg, token_address: str) -> bool:
    mode = cfg.signals.token_filter_mode
    if mode == "blacklist":
        return token_address in cfg.signals.token_list
    if mode == "whitelist":
        return token_address not in cfg.signals.token_list
    return False


def _metric_bounds_set(cfg) -> bool:
    # Token metrics are not fetched yet: a bound that is set cannot be checked, and an
    # unknown metric with a bound set means "not eligible" (trading-rules.md section 2.4).
    s = cfg.signals
    bounds = (
        s.market_cap_min,
        s.market_cap_max,
        s.liquidity_min,
        s.liquidity_max,
        s.holder_count_min,
        s.holder_count_max,
    )
    return any(bound is not None for bound in bounds)
