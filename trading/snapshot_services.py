"""Balance snapshots: each agent wallet's SOL and equity at a moment, the points of its
balance history and of the drawdown and Sharpe figures (docs/analytics.md). Written hourly by
beat for every agent wallet, and after each position close for its wallet."""

from datetime import UTC, datetime

from nexgent import money
from prices.selectors import sol_usd_fresh
from trading.models import BalanceSnapshot
from trading.performance_selectors import wallet_valuations
from wallets.models import AgentWallet

# Rows per INSERT when beat snapshots every wallet at once.
_BATCH = 1000


def balance_snapshots_record(
    *, wallet_ids: list[int] | None = None, now: datetime | None = None
) -> list[BalanceSnapshot]:
    """One snapshot of each wallet in `wallet_ids` (of every wallet assigned to an agent when
    None), valuing open positions at the latest known prices: a fixed number of queries
    whatever the number of wallets. A snapshot only adds a row, so no lock is needed: two at
    the same moment are two points of the same curve."""
    if wallet_ids is None:
        assigned = AgentWallet.objects.filter(agent__isnull=False).order_by("pk")
        wallet_ids = list(assigned.values_list("pk", flat=True))
    taken_at = now or datetime.now(UTC)
    sol_usd = sol_usd_fresh()
    snapshots = [
        BalanceSnapshot(
            wallet_id=wallet_id,
            taken_at=taken_at,
            sol_balance=money.amount(value.sol_balance),
            positions_value_sol=money.amount(value.positions_value_sol),
            total_value_sol=money.amount(value.equity_sol),
            sol_usd=sol_usd,
        )
        for wallet_id, value in wallet_valuations(wallet_ids).items()
    ]
    return BalanceSnapshot.objects.bulk_create(snapshots, batch_size=_BATCH)
