"""Reason codes in words: the one place a code becomes a sentence for the dashboard and the API,
whether it is an agent's decision on a signal (signal_executions' `reason`), why a strategist
cycle waited (strategist_cycles' `reason`), or why the risk manager refused a decision and how
its execution went (strategist_decisions' `verdict_reason` and `outcome_reason`)."""

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
    # Why a strategist cycle waited (executed nothing).
    "no_model": "No AI model is set up: add one under AI model.",
    "budget_reached": "The agent's daily token or cost budget for the model is spent.",
    "market_data_unavailable": "Market data could not be read for the candidates.",
    "model_timeout": "The model did not answer in time.",
    "model_rate_limited": "The model's provider limited the rate of requests.",
    "model_error": "The model's provider answered with an error.",
    "model_auth_failed": "The model's provider refused the API key.",
    "model_unreachable": "The model's endpoint could not be reached.",
    "malformed_answer": "The model's answer was not valid JSON, or was cut off.",
    "schema_violation": "The model's answer did not have the required shape.",
    "abandoned": "The worker running the cycle stopped before the model answered.",
    # Why the risk manager refused a strategist decision.
    "not_a_candidate": "The token was not among the candidates shown to the model.",
    "size_missing": "The decision gave no size to buy.",
    "size_above_limit": "The size is above the strategist's maximum position.",
    "size_above_equity_share": "The size is above the strategist's share of the equity.",
    "stop_not_below_price": "The stop price is not below the current price.",
    "take_profit_not_above_price": "The take-profit price is not above the current price.",
    "reward_risk_too_low": "The reward to risk of the stop and take profit is below the minimum.",
    "not_held": "The agent holds no open position in this token to close.",
    "duplicate_decision": "The same token was already decided in this answer.",
    "price_unknown": "The token's current price is not known.",
    # How a strategist decision's execution went.
    "hold": "The strategist chose to hold: nothing to execute.",
    "not_executed": "The buy was not executed; it stayed pending.",
}


def reason_text(code: str) -> str:
    """The sentence for a reason code; an unknown code is shown as it is, in words."""
    if not code:
        return ""
    return REASONS.get(code, code.replace("_", " ").capitalize() + ".")
