"""An agent's decision on a signal in words: the one place a reason code (signal_executions'
`reason`) becomes a sentence for the dashboard."""

REASONS = {
    "agent_inactive": "The agent is inactive.",
    "automation_off": "Automated trading is paused for the agent's mode.",
    "no_wallet": "The agent has no wallet for its trading mode.",
    "risk_paused": "A risk guard has paused the agent's buys.",
    "below_min_score": "The signal's strength is below the agent's minimum score.",
    "signal_type_not_allowed": "The agent does not take this type of signal.",
    "token_blacklisted": "The token is on the agent's blacklist.",
    "token_not_whitelisted": "The token is not on the agent's whitelist.",
    "token_metrics_unknown": "The token's market cap, liquidity or holders could not be read, "
    "and the agent filters on them.",
    "market_cap_out_of_range": "The token's market cap is outside the agent's range.",
    "liquidity_out_of_range": "The token's liquidity is outside the agent's range.",
    "holder_count_out_of_range": "The token's holder count is outside the agent's range.",
    "position_exists": "The agent already holds an open position in this token.",
    "max_open_positions": "The agent already has its maximum of open positions.",
    "insufficient_balance": "The agent's SOL balance is below its minimum for buying.",
    "insufficient_funds": "The wallet does not hold enough SOL for the buy and its fees.",
    "kill_switch_halt": "The kill switch halts all trading.",
    "kill_switch_reduce_only": "The kill switch allows sells only.",
    "signal_expired": "The signal was too old by the time it was processed.",
    "invalid_config": "The agent's saved config cannot be read; fix it on the config page.",
    "price_impact_too_high": "The price impact was above the agent's limit at every size.",
    "venue_error": "The exchange could not be reached or answered an error.",
    "internal_error": "An internal error stopped the buy; see the logs.",
    "swap_in_flight": "A live swap for this agent was still in flight.",
    "swap_simulation_failed": "The live swap failed its simulation and was not sent.",
    "swap_unconfirmed": "The live swap was sent but never confirmed.",
    "invalid_fill": "The swap delivered an amount that cannot be right.",
    "action_already_executed": "This buy was already made.",
    "posted_signals_off": "The agent takes its AI strategist's decisions only, not posted signals.",
    "strategist_off": "The agent does not take its AI strategist's decisions.",
    "no_open_position": "The agent holds no open position in this token to sell.",
    "position_not_open": "The position was already closed when the sell came.",
}


def reason_text(code: str) -> str:
    """The sentence for a reason code; an unknown code is shown as it is, in words."""
    if not code:
        return ""
    return REASONS.get(code, code.replace("_", " ").capitalize() + ".")
