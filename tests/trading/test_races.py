"""A position is sold at most once whatever races (two ticks, two workers, a retry); a
take-profit level executes at most once; a DCA level at most once.

- On every backend: the retry and duplicate cases, one after the other. A second close, a
  replayed take-profit level, a replayed DCA count and a duplicate task all write nothing.
- On PostgreSQL: real threads race on the same call. A barrier inside the venue holds every
  racer until all of them have passed the executor's first (unlocked) check, so in every
  round only the re-check under the row lock stands between the racers and a second write.
  1,000 close rounds, then the take-profit and DCA levels.
- On PostgreSQL + Redis: two Celery worker processes consume duplicated exit tasks for the
  same positions.
"""

import functools
import os
import signal
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Count

from nexgent.celery import app as celery_app
from tests.backends import on_postgres
from tests.harness import celery_worker_argv, current_database_url
from tests.trading.ledger import (
    WSOL,
    ZERO,
    FixedVenue,
    Racers,
    Snapshot,
    balance,
    balances,
    ledger_effects,
    network_fee,
    nonzero,
    protocol_fee,
    quote,
    sim_fill,
    whole,
)
from trading import tasks
from trading.ledger_services import balance_deposit
from trading.models import ClosedTrade, Position, Transaction
from trading.services import (
    position_buy,
    position_close,
    position_dca_buy,
    position_take_profit,
    position_write_off,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


STOP = Decimal("-30")
DECIMALS = 6
RACERS = 8
CLOSE_ROUNDS = 1_000
LEVEL_POSITIONS = 25
LEVELS = 4
DEPOSIT = Decimal(10_000)

# Fixed fills for the thread races: raw amounts, priced with the SIM_* fees.
BUY = {"sol_lamports": 50_000_000, "token_raw": 1_234_567_891, "decimals": DECIMALS}
SALE = {"sol_lamports": 61_000_123, "token_raw": 1_234_567_891, "decimals": DECIMALS}
TAKE_PROFIT = {"sol_lamports": 7_000_001, "token_raw": 123_456_789, "decimals": DECIMALS}
DCA = {"sol_lamports": 20_000_000, "token_raw": 777_777_777, "decimals": DECIMALS}


def debit_of(fill) -> Decimal:
    return fill.sol_amount + fill.protocol_fee_sol + fill.network_fee_sol


def proceeds_of(fill) -> Decimal:
    return fill.sol_amount - fill.protocol_fee_sol - fill.network_fee_sol


def record_buy(agent, wallet, mint: str, fill) -> Position:
    """Opens a position from a fill, without any HTTP (the race is about what comes after)."""
    return position_buy(
        agent=agent,
        wallet=wallet,
        token_address=mint,
        token_symbol="RACE",
        sol_amount=fill.sol_amount,
        stop_loss_percent=STOP,
        decimals=DECIMALS,
        venue=FixedVenue(buy_fill=fill),
    ).position


def assert_ledger_consistent(wallet) -> None:
    held = balances(wallet)
    assert all(amount >= 0 for amount in held.values())
    assert nonzero(ledger_effects(wallet)) == nonzero(held)
    for position in Position.objects.filter(wallet=wallet):
        expected = held.get(position.token_address, ZERO) if position.status == "open" else ZERO
        assert position.remaining_amount == expected, position


def check_rounds(rounds: list[tuple[list, int]]) -> None:
    """Each round (the racers' outcomes, how many reached the venue) wrote exactly once, no
    racer failed, and every racer got past the unlocked first check to the venue."""
    writes = [sum(o.value is not None for o in outcomes) for outcomes, _ in rounds]
    errors = [o.error for outcomes, _ in rounds for o in outcomes if o.error is not None]
    problems = []
    if any(n > 1 for n in writes):
        problems.append(f"{sum(n > 1 for n in writes)} rounds wrote more than once")
    if any(n == 0 for n in writes):
        problems.append(f"{writes.count(0)} rounds wrote nothing")
    if errors:
        problems.append(f"{len(errors)} racers failed, e.g. {errors[0]!r}")
    short = [executed for _, executed in rounds if executed != RACERS]
    if short:
        problems.append(f"in {len(short)} rounds not every racer reached the venue")
    assert not problems, f"of {len(rounds)} rounds: " + "; ".join(problems)


# --- Retries and duplicates, one after the other (every backend) ------------------------------


@pytest.fixture
def token(market):
    return market.add_token(
        symbol="DUPE", price_sol=Decimal("0.0002"), decimals=DECIMALS, liquidity_sol=Decimal(5000)
    )


def _buy(agent, wallet, token) -> Position:
    return position_buy(
        agent=agent,
        wallet=wallet,
        token_address=token,
        sol_amount=Decimal(1),
        stop_loss_percent=STOP,
    ).position


@pytest.mark.django_db
def test_second_close_and_duplicate_exit_task_write_nothing(localnet, agent, funded_wallet, token):
    position = _buy(agent, funded_wallet, token)
    remaining = position.remaining_amount
    assert position_close(position_id=position.pk, reason="stop_loss") is not None
    after_first = Snapshot.take(funded_wallet)

    # A second tick, a retried task and a write-off decided before the close all find it closed.
    assert position_close(position_id=position.pk, reason="stop_loss") is None
    tasks.position_exit.delay(position.pk, "stop_loss", str(remaining))
    assert position_write_off(position_id=position.pk) is None
    assert (
        position_take_profit(
            position_id=position.pk,
            token_amount=remaining / 2,
            expected_levels_hit=0,
            new_levels_hit=1,
        )
        is None
    )
    assert Snapshot.take(funded_wallet) == after_first
    assert ClosedTrade.objects.filter(position=position).count() == 1
    assert Transaction.objects.filter(position=position, input_mint=token).count() == 1
    assert_ledger_consistent(funded_wallet)


@pytest.mark.django_db
def test_close_after_write_off_writes_nothing(localnet, agent, funded_wallet, token):
    position = _buy(agent, funded_wallet, token)
    assert position_write_off(position_id=position.pk) is not None
    written_off = Snapshot.take(funded_wallet)
    assert position_close(position_id=position.pk, reason="stop_loss") is None
    assert position_write_off(position_id=position.pk) is None
    assert Snapshot.take(funded_wallet) == written_off
    assert_ledger_consistent(funded_wallet)


@pytest.mark.django_db
def test_replayed_take_profit_level_writes_nothing(localnet, agent, funded_wallet, token):
    position = _buy(agent, funded_wallet, token)
    part = position.total_tokens_bought / 4
    first = position_take_profit(
        position_id=position.pk, token_amount=part, expected_levels_hit=0, new_levels_hit=1
    )
    assert first is not None and first.idempotency_key == f"tp:{position.pk}:1"
    after_first = Snapshot.take(funded_wallet)

    # The same decision again (a retry, a second tick on the old state), and through the task.
    assert (
        position_take_profit(
            position_id=position.pk, token_amount=part, expected_levels_hit=0, new_levels_hit=1
        )
        is None
    )
    tasks.position_take_profit.delay(position.pk, str(part), 0, 1, False, "0", False)
    # A stale decision that would have jumped two levels at once.
    assert (
        position_take_profit(
            position_id=position.pk, token_amount=part * 2, expected_levels_hit=0, new_levels_hit=2
        )
        is None
    )
    assert Snapshot.take(funded_wallet) == after_first
    assert Transaction.objects.filter(position=position, is_take_profit=True).count() == 1

    # The next level still executes, once.
    second = position_take_profit(
        position_id=position.pk, token_amount=part, expected_levels_hit=1, new_levels_hit=2
    )
    assert second is not None
    assert Position.objects.get(pk=position.pk).take_profit_levels_hit == 2
    assert_ledger_consistent(funded_wallet)


@pytest.mark.django_db
def test_replayed_dca_count_writes_nothing(localnet, market, agent, funded_wallet, token):
    position = _buy(agent, funded_wallet, token)
    market.set_price(token, Decimal("0.0001"))
    first = position_dca_buy(
        position_id=position.pk,
        sol_amount=Decimal("0.5"),
        expected_dca_count=0,
        take_profit_levels=3,
    )
    assert first is not None and first.idempotency_key == f"dca:{position.pk}:1"
    after_first = Snapshot.take(funded_wallet)

    assert (
        position_dca_buy(
            position_id=position.pk,
            sol_amount=Decimal("0.5"),
            expected_dca_count=0,
            take_profit_levels=3,
        )
        is None
    )
    tasks.position_dca_buy.delay(position.pk, "0.5", 0, 3)
    assert Snapshot.take(funded_wallet) == after_first
    assert Transaction.objects.filter(position=position, is_dca=True).count() == 1
    assert Position.objects.get(pk=position.pk).dca_count == 1
    assert_ledger_consistent(funded_wallet)


# --- Threads racing on PostgreSQL ---------------------------------------------------------------


@on_postgres
@pytest.mark.usefixtures("localnet")
def test_racing_closes_sell_each_position_exactly_once(market, agent, wallet):
    mint = market.add_token(symbol="RACE", price_sol=Decimal("0.00004"), decimals=DECIMALS)
    balance_deposit(wallet=wallet, amount=DEPOSIT)
    buy, sale = sim_fill(**BUY), sim_fill(**SALE)
    rounds = []
    with Racers(RACERS) as racers:
        for _round in range(CLOSE_ROUNDS):
            position = record_buy(agent, wallet, mint, buy)
            venue = FixedVenue(sell_fill=sale, barrier=threading.Barrier(RACERS, timeout=20))
            close = functools.partial(
                position_close, position_id=position.pk, reason="stop_loss", venue=venue
            )
            rounds.append((racers.run(close), venue.executed))
    check_rounds(rounds)

    sales = (
        Transaction.objects.filter(wallet=wallet, input_mint=mint)
        .values("position")
        .annotate(n=Count("id"))
    )
    assert len(sales) == CLOSE_ROUNDS and {row["n"] for row in sales} == {1}
    assert ClosedTrade.objects.filter(wallet=wallet).count() == CLOSE_ROUNDS
    assert not Position.objects.filter(wallet=wallet, status="open").exists()
    expected_sol = DEPOSIT - CLOSE_ROUNDS * debit_of(buy) + CLOSE_ROUNDS * proceeds_of(sale)
    assert balance(wallet, WSOL) == expected_sol
    assert balance(wallet, mint) == 0
    assert_ledger_consistent(wallet)


@on_postgres
def test_racing_first_deposits_into_new_wallets_all_land(user):
    """A new wallet has no SOL row until its first deposit creates it: racers that all make
    the first deposit of a wallet at once each land exactly once."""
    from agents.services import agent_create

    amount = Decimal("1.25")
    with Racers(RACERS) as racers:
        for round_number in range(20):
            agent = agent_create(owner=user, name=f"Fresh {round_number:02d}")
            wallet = agent.wallets.get(mode="simulation")
            outcomes = racers.run(functools.partial(balance_deposit, wallet=wallet, amount=amount))
            assert [o.error for o in outcomes if o.error is not None] == []
            assert balance(wallet, WSOL) == RACERS * amount
            assert Transaction.objects.filter(wallet=wallet, type="DEPOSIT").count() == RACERS


def _race_levels(agent, wallet, fill, step):
    """LEVEL_POSITIONS positions (one token each), each raced on LEVELS successive levels:
    `step(position_id, level, venue)` is what every racer calls."""
    balance_deposit(wallet=wallet, amount=DEPOSIT)
    buy = sim_fill(**BUY)
    positions = [
        record_buy(agent, wallet, f"RaceLevelToken{n:04d}", buy) for n in range(LEVEL_POSITIONS)
    ]
    rounds = []
    with Racers(RACERS) as racers:
        for position in positions:
            for level in range(LEVELS):
                venue = FixedVenue(
                    sell_fill=fill, buy_fill=fill, barrier=threading.Barrier(RACERS, timeout=20)
                )
                outcomes = racers.run(functools.partial(step, position.pk, level, venue))
                rounds.append((outcomes, venue.executed))
    check_rounds(rounds)
    return buy, positions


@on_postgres
@pytest.mark.usefixtures("localnet")
def test_racing_take_profits_execute_each_level_once(agent, wallet):
    fill = sim_fill(**TAKE_PROFIT)

    def take_profit(position_id, level, venue):
        return position_take_profit(
            position_id=position_id,
            token_amount=fill.token_amount,
            expected_levels_hit=level,
            new_levels_hit=level + 1,
            venue=venue,
        )

    buy, positions = _race_levels(agent, wallet, fill, take_profit)
    for position in positions:
        keys = set(
            Transaction.objects.filter(position=position, is_take_profit=True).values_list(
                "idempotency_key", flat=True
            )
        )
        assert keys == {f"tp:{position.pk}:{level}" for level in range(1, LEVELS + 1)}
        row = Position.objects.get(pk=position.pk)
        assert row.take_profit_levels_hit == LEVELS
        assert row.remaining_amount == buy.token_amount - LEVELS * fill.token_amount
        assert row.realized_sol == LEVELS * proceeds_of(fill)
    count = LEVEL_POSITIONS
    expected_sol = DEPOSIT - count * debit_of(buy) + count * LEVELS * proceeds_of(fill)
    assert balance(wallet, WSOL) == expected_sol
    assert_ledger_consistent(wallet)


@on_postgres
@pytest.mark.usefixtures("localnet")
def test_racing_dca_buys_execute_each_level_once(agent, wallet):
    fill = sim_fill(**DCA)

    def dca(position_id, level, venue):
        return position_dca_buy(
            position_id=position_id,
            sol_amount=fill.sol_amount,
            expected_dca_count=level,
            take_profit_levels=3,
            venue=venue,
        )

    buy, positions = _race_levels(agent, wallet, fill, dca)
    for position in positions:
        keys = set(
            Transaction.objects.filter(position=position, is_dca=True).values_list(
                "idempotency_key", flat=True
            )
        )
        assert keys == {f"dca:{position.pk}:{level}" for level in range(1, LEVELS + 1)}
        row = Position.objects.get(pk=position.pk)
        assert row.dca_count == LEVELS
        assert row.remaining_amount == buy.token_amount + LEVELS * fill.token_amount
        assert row.total_tokens_bought == row.remaining_amount
        assert row.total_invested_sol == debit_of(buy) + LEVELS * debit_of(fill)
    count = LEVEL_POSITIONS
    expected_sol = DEPOSIT - count * debit_of(buy) - count * LEVELS * debit_of(fill)
    assert balance(wallet, WSOL) == expected_sol
    assert_ledger_consistent(wallet)


# --- Two Celery worker processes on PostgreSQL + Redis -------------------------------------------

WORKERS = 2
WORKER_THREADS = 4
EXIT_POSITIONS = 100
DUPLICATES = 4


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def workers(transactional_db, localnet, tmp_path):
    """Two Celery worker processes (threads pool) on the test database, the harness's Redis and
    localnet; stopped, with their connections, before the test database is flushed."""
    celery_app.control.purge()
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "NEXGENT_TASK_MODE": "celery",
        **localnet.engine_settings(),
    }
    names = [f"race{n}@localhost" for n in range(1, WORKERS + 1)]
    logs = {name: tmp_path / f"{name.split('@')[0]}.log" for name in names}
    running = {}
    for name in names:
        with open(logs[name], "w") as log:
            running[name] = subprocess.Popen(
                celery_worker_argv(WORKER_THREADS, "--hostname", name, "--without-heartbeat"),
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    try:
        deadline = time.monotonic() + 60
        while True:
            for name, process in running.items():
                if process.poll() is not None:
                    pytest.fail(f"{name} exited with {process.returncode}:\n{_tail(logs[name])}")
            replies = celery_app.control.ping(destination=names, timeout=0.5)
            if len(replies) == WORKERS:
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    "workers did not answer a ping:\n" + "\n".join(map(_tail, logs.values()))
                )
        yield names, logs
    finally:
        for process in running.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        celery_app.control.purge()


def _exits_run(names: list[str]) -> dict[str, int] | None:
    """How many exit tasks each worker has started, once none is still running; else None."""
    inspect = celery_app.control.inspect(destination=names, timeout=2, limit=WORKERS)
    stats = inspect.stats() or {}
    ran = {
        name: stats.get(name, {}).get("total", {}).get(tasks.position_exit.name, 0)
        for name in names
    }
    active = inspect.active() or {}
    if len(active) < WORKERS or any(active.values()):
        return None
    return ran


@on_postgres
def test_duplicate_exit_tasks_on_two_workers_sell_each_position_once(
    workers, settings, localnet, market, agent, wallet
):
    names, logs = workers
    settings.TASK_MODE = "celery"  # .delay publishes to Redis; the workers execute
    balance_deposit(wallet=wallet, amount=DEPOSIT)
    expected_sol = DEPOSIT
    positions = []
    for n in range(EXIT_POSITIONS):
        mint = market.add_token(
            symbol=f"W{n}",
            price_sol=Decimal("0.0003"),
            decimals=DECIMALS,
            liquidity_sol=Decimal(800),
        )
        bought = sim_fill(sol_lamports=30_000_000, token_raw=100_000_000 + n, decimals=DECIMALS)
        positions.append(record_buy(agent, wallet, mint, bought))
        # What the sale must credit, from the market's own quote and the fee settings.
        _, out = quote(localnet, mint, WSOL, 100_000_000 + n)
        expected_sol += whole(out, 9) - protocol_fee(out) - network_fee() - debit_of(bought)

    # Each exit is decided DUPLICATES times (ticks that overlap, a redelivery), back to back so
    # that the copies run at the same time on different worker threads and processes.
    for position in positions:
        for _ in range(DUPLICATES):
            tasks.position_exit.delay(position.pk, "stop_loss", str(position.remaining_amount))

    # Wait for every copy to have run, not just for the first of each to have sold: a late
    # duplicate must have had its chance to sell again.
    ids = [p.pk for p in positions]
    deadline = time.monotonic() + 90
    while True:
        if not Position.objects.filter(pk__in=ids, status="open").exists():
            ran = _exits_run(names)
            if ran is not None and sum(ran.values()) == EXIT_POSITIONS * DUPLICATES:
                break
        if time.monotonic() > deadline:
            pytest.fail("the workers did not finish:\n" + "\n".join(map(_tail, logs.values())))
        time.sleep(0.2)
    assert all(ran.values()), f"one worker ran nothing: {ran}"
    for path in logs.values():
        text = path.read_text(errors="replace")
        assert "Traceback" not in text and "raised unexpected" not in text, _tail(path)

    sales = (
        Transaction.objects.filter(position_id__in=ids, output_mint=WSOL)
        .values("position")
        .annotate(n=Count("id"))
    )
    assert len(sales) == EXIT_POSITIONS and {row["n"] for row in sales} == {1}
    assert ClosedTrade.objects.filter(position_id__in=ids).count() == EXIT_POSITIONS
    assert set(ClosedTrade.objects.values_list("close_reason", flat=True)) == {"stop_loss"}
    assert balance(wallet, WSOL) == expected_sol
    assert nonzero({m: a for m, a in balances(wallet).items() if m != WSOL}) == {}
    assert_ledger_consistent(wallet)
