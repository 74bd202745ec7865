"""Shadow fills, read: each live swap of an agent beside its paper twin (the simulated venue's
fill of the same quote), and per position the live P/L against paper's (trading.rules.shadow;
docs/decisions.md "Shadow fills")."""

import statistics
from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, QuerySet

from agents.models import Agent
from nexgent import money
from nexgent.money import as_str
from trading.models import ClosedTrade, LiveSwap, LiveSwapStatus, Transaction
from trading.rules import shadow


def shadow_swaps(agent: Agent) -> QuerySet[LiveSwap]:
    """The agent's live swaps that carry a paper twin, newest first: those of its live wallet
    and those in its ledger (a wallet unassigned since keeps its history with the agent)."""
    recorded = Transaction.objects.filter(agent=agent).exclude(tx_signature="")
    return LiveSwap.objects.filter(
        Q(wallet__agent=agent) | Q(signature__in=recorded.values("tx_signature")),
        paper_sol_amount__isnull=False,
    ).order_by("-id")


def shadow_trade_payload(swap: LiveSwap, position_id: int | None = None) -> dict:
    """One swap: quoted, paper and live amounts, the slippage paid and the landing time."""
    quoted_sol, quoted_tokens = _quoted(swap)
    live = _live(swap)
    return {
        "signature": swap.signature,
        "action": swap.action_key,
        "side": swap.side,
        "token_address": swap.mint,
        "position_id": position_id,
        "status": swap.status,
        "reason": swap.reason,
        "sent_at": swap.created_at,
        "landing_ms": _landing_ms(swap),
        "quoted": {"sol": as_str(quoted_sol), "tokens": as_str(quoted_tokens)},
        "paper": {
            "sol": as_str(swap.paper_sol_amount),
            "tokens": as_str(swap.paper_token_amount),
            "fees_sol": as_str(swap.paper_fee_sol),
        },
        "live": live
        and {"sol": as_str(live[0]), "tokens": as_str(live[1]), "fees_sol": as_str(live[2])},
        "slippage_bps": as_str(_slippage(swap, live)),
        "fee_gap_sol": None if live is None else as_str(live[2] - swap.paper_fee_sol),
    }


def shadow_trades(agent: Agent, *, limit: int, offset: int = 0) -> list[dict]:
    swaps = list(shadow_swaps(agent).select_related("wallet")[offset : offset + limit])
    positions = _positions_by_signature([swap.signature for swap in swaps])
    return [shadow_trade_payload(swap, positions.get(swap.signature)) for swap in swaps]


def shadow_report(agent: Agent) -> dict:
    """The totals of every swap, and the live against paper P/L of each closed position."""
    swaps = list(shadow_swaps(agent).order_by("id"))
    landed = [swap for swap in swaps if swap.status == LiveSwapStatus.LANDED]
    failed: dict[str, int] = defaultdict(int)
    for swap in swaps:
        if swap.status == LiveSwapStatus.FAILED:
            failed[swap.reason] += 1
    positions = _closed_position_gaps(landed)
    return {
        "swaps": len(swaps),
        "landed": len(landed),
        "pending": sum(swap.status == LiveSwapStatus.PENDING for swap in swaps),
        "failed_by_reason": dict(sorted(failed.items())),
        "slippage_bps_average": as_str(_average(_slippage(s, _live(s)) for s in landed)),
        "landing_ms_median": _median([_landing_ms(swap) for swap in landed]),
        "live_fees_sol": as_str(sum((_live(swap)[2] for swap in landed), money.ZERO)),
        "paper_fees_sol": as_str(sum((swap.paper_fee_sol for swap in landed), money.ZERO)),
        "pnl_gap_sol": as_str(money.amount(sum((g.gap for _, g in positions), money.ZERO))),
        "closed_positions": [_gap_payload(trade, gap) for trade, gap in positions],
    }


# --- Inside -----------------------------------------------------------------------------------


def _quoted(swap: LiveSwap) -> tuple[Decimal, Decimal]:
    """(SOL, tokens) of the quote: a buy's SOL goes in and tokens come out, a sale's the
    other way round."""
    sol_raw, token_raw = (
        (swap.quoted_in_raw, swap.quoted_out_raw)
        if swap.side == "buy"
        else (swap.quoted_out_raw, swap.quoted_in_raw)
    )
    return money.lamports_to_sol(int(sol_raw)), money.raw_to_ui(int(token_raw), swap.decimals)


def _live(swap: LiveSwap) -> tuple[Decimal, Decimal, Decimal] | None:
    """(SOL, tokens, fees) the chain moved; None while pending or when it never landed. A swap
    that failed on chain moved nothing but its fee."""
    if swap.fee_lamports is None:
        return None
    if swap.status != LiveSwapStatus.LANDED:
        return money.ZERO, money.ZERO, money.lamports_to_sol(swap.fee_lamports)
    amounts = shadow.chain_amounts(
        side=swap.side,
        sol_delta=swap.sol_delta_lamports,
        token_delta=int(swap.token_delta_raw),
        fee=swap.fee_lamports,
        quoted_in=int(swap.quoted_in_raw),
    )
    return (
        money.lamports_to_sol(amounts.sol_lamports),
        money.raw_to_ui(amounts.token_raw, swap.decimals),
        money.lamports_to_sol(amounts.network_lamports),
    )


def _slippage(swap: LiveSwap, live) -> Decimal | None:
    if swap.status != LiveSwapStatus.LANDED or live is None:
        return None
    quoted_sol, quoted_tokens = _quoted(swap)
    quoted, received = (quoted_tokens, live[1]) if swap.side == "buy" else (quoted_sol, live[0])
    return money.percent(shadow.slippage_bps(quoted_out=quoted, received=received))


def _landing_ms(swap: LiveSwap) -> int | None:
    if swap.resolved_at is None:
        return None
    return int((swap.resolved_at - swap.created_at).total_seconds() * 1000)


def _positions_by_signature(signatures: list[str]) -> dict[str, int]:
    rows = Transaction.objects.filter(tx_signature__in=signatures, position__isnull=False)
    return dict(rows.values_list("tx_signature", "position_id"))


def _closed_position_gaps(landed: list[LiveSwap]) -> list[tuple[ClosedTrade, shadow.PositionGap]]:
    positions = _positions_by_signature([swap.signature for swap in landed])
    legs: dict[int, list[shadow.Leg]] = defaultdict(list)
    for swap in landed:  # oldest first
        if swap.signature in positions:
            legs[positions[swap.signature]].append(_leg(swap))
    closed = ClosedTrade.objects.filter(position_id__in=legs).order_by("-closed_at", "-id")
    return [(trade, shadow.position_gap(legs[trade.position_id])) for trade in closed]


def _gap_payload(trade: ClosedTrade, gap: shadow.PositionGap) -> dict:
    return {
        "position_id": trade.position_id,
        "token_address": trade.token_address,
        "close_reason": trade.close_reason,
        "closed_at": trade.closed_at,
        "live_pnl_sol": as_str(money.amount(gap.live_pnl)),
        "paper_pnl_sol": as_str(money.amount(gap.paper_pnl)),
        "gap_sol": as_str(money.amount(gap.gap)),
    }


def _leg(swap: LiveSwap) -> shadow.Leg:
    live_sol, live_tokens, live_fee = _live(swap)
    return shadow.Leg(
        side=swap.side,
        live_sol=live_sol,
        live_tokens=live_tokens,
        live_fee=live_fee,
        paper_sol=swap.paper_sol_amount,
        paper_tokens=swap.paper_token_amount,
        paper_fee=swap.paper_fee_sol,
    )


def _average(values) -> Decimal | None:
    present = [value for value in values if value is not None]
    if not present:
        return None
    return money.percent(money.divide(sum(present, money.ZERO), Decimal(len(present))))


def _median(values: list[int | None]) -> int | None:
    present = [value for value in values if value is not None]
    if not present:
        return None
    return statistics.median_low(present)
