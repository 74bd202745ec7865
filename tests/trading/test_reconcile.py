"""Reconcile against localnet's chain: a real LiteSVM behind the real Solana RPC over HTTP.
SOL arrives by airdrop and leaves by a signed system transfer; tokens arrive by a signed SPL
transfer from a listed token's pool."""

import functools
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from prometheus_client import REGISTRY
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from agents.services import agent_create
from localnet import spl
from nexgent import money
from tests.backends import on_postgres
from tests.trading.ledger import Racers
from trading import reconcile_services, tasks
from trading.models import Balance, Transaction, TransactionType
from trading.reconcile_services import wallet_reconcile, wallets_reconcile
from wallets.models import WalletReconcile
from wallets.services import wallet_assign, wallet_import

pytestmark = pytest.mark.django_db

SOL = money.WSOL_MINT
LAMPORTS = 10**9


@pytest.fixture
def chain(market, localnet):
    """localnet's chain with its clock stopped: slots pass only when a test advances them."""
    market.set_slot_time(None)
    return market.chain


def live_wallet_of(agent, keypair):
    wallet = wallet_import(owner=agent.owner, secret=str(keypair))
    return wallet_assign(wallet=wallet, agent=agent)


@pytest.fixture
def keypair():
    return Keypair()


@pytest.fixture
def live(agent, keypair):
    return live_wallet_of(agent, keypair)


@pytest.fixture
def operator(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def deposits(wallet):
    return list(
        Transaction.objects.filter(wallet=wallet, type=TransactionType.DEPOSIT).order_by("pk")
    )


def ledger_sol(wallet) -> Decimal:
    row = Balance.objects.filter(wallet=wallet, token_address=SOL).first()
    return Decimal(0) if row is None else row.amount


def send_sol_away(chain, keypair, lamports: int) -> None:
    """A real transfer out of the wallet, signed with its key, landed at the next slot."""
    blockhash, _ = chain.latest_blockhash()
    instruction = transfer(
        TransferParams(
            from_pubkey=keypair.pubkey(), to_pubkey=Keypair().pubkey(), lamports=lamports
        )
    )
    message = MessageV0.try_compile(keypair.pubkey(), [instruction], [], blockhash)
    chain.send(VersionedTransaction(message, [keypair]))
    chain.advance()


def drift_of(result, mint=SOL) -> Decimal:
    return next(Decimal(line["drift"]) for line in result.balances if line["token_address"] == mint)


def test_sol_sent_to_the_wallet_is_recorded_once_as_a_deposit(chain, live, keypair):
    chain.fund(keypair.pubkey(), 2 * LAMPORTS)

    first = wallet_reconcile(wallet=live)
    again = wallet_reconcile(wallet=live)
    chain.advance(3)
    later = wallet_reconcile(wallet=live)

    assert first.deposit is not None and first.deposit.input_amount == Decimal("2")
    assert first.deposit.idempotency_key.startswith(f"deposit:{live.pk}:")
    assert again.deposit is None and later.deposit is None
    assert [d.input_amount for d in deposits(live)] == [Decimal("2")]
    assert ledger_sol(live) == Decimal("2")
    assert later.result.has_drift is False


def test_a_second_deposit_is_recorded_for_what_it_added(chain, live, keypair):
    chain.fund(keypair.pubkey(), 2 * LAMPORTS)
    wallet_reconcile(wallet=live)
    chain.advance()
    chain.fund(keypair.pubkey(), LAMPORTS // 4)

    outcome = wallet_reconcile(wallet=live)

    assert outcome.deposit.input_amount == Decimal("0.25")
    assert [d.input_amount for d in deposits(live)] == [Decimal("2"), Decimal("0.25")]
    assert ledger_sol(live) == Decimal("2.25")


def test_ledger_and_chain_in_step_show_no_drift_in_the_api(chain, live, keypair, operator):
    chain.fund(keypair.pubkey(), 3 * LAMPORTS)
    wallet_reconcile(wallet=live)

    response = operator.get(f"/api/v1/agents/{live.agent_id}/wallets")

    assert response.status_code == 200
    shown = {w["mode"]: w for w in response.json()["wallets"]}
    assert shown["simulation"]["reconcile"] is None
    reconcile = shown["live"]["reconcile"]
    assert reconcile["has_drift"] is False and reconcile["error"] == ""
    assert reconcile["trade_in_flight"] is False
    assert reconcile["balances"] == [
        {"token_address": SOL, "on_chain": "3", "ledger": "3", "drift": "0"}
    ]
    gauge = REGISTRY.get_sample_value("nexgent_wallet_drift_sol", {"wallet": live.address})
    assert gauge == 0


def test_a_deficit_on_chain_is_drift_and_never_written_to_the_ledger(
    chain, live, keypair, operator, capsys
):
    chain.fund(keypair.pubkey(), 2 * LAMPORTS)
    wallet_reconcile(wallet=live)
    send_sol_away(chain, keypair, LAMPORTS // 2)
    on_chain = money.lamports_to_sol(chain.balance(keypair.pubkey()))

    with pytest.raises(SystemExit) as exited:
        call_command("reconcile")

    assert exited.value.code == 1
    assert f"{live.address}  DRIFT  {SOL}" in capsys.readouterr().out
    result = WalletReconcile.objects.get(wallet=live)
    assert result.has_drift is True
    assert drift_of(result) == on_chain - Decimal("2") < Decimal("-0.5")
    assert ledger_sol(live) == Decimal("2") and len(deposits(live)) == 1
    shown = operator.get(f"/api/v1/agents/{live.agent_id}/wallets").json()["wallets"]
    live_shown = next(w for w in shown if w["mode"] == "live")
    assert live_shown["reconcile"]["has_drift"] is True
    assert live_shown["reconcile"]["balances"][0]["drift"] == money.as_str(on_chain - 2)
    gauge = REGISTRY.get_sample_value("nexgent_wallet_drift_sol", {"wallet": live.address})
    assert gauge == float(on_chain - 2)


def test_the_command_exits_zero_when_every_wallet_is_in_step(chain, live, keypair, capsys):
    chain.fund(keypair.pubkey(), LAMPORTS)
    wallet_reconcile(wallet=live)

    call_command("reconcile")

    assert f"{live.address}  in step" in capsys.readouterr().out


def test_tokens_on_chain_the_ledger_lacks_are_drift(chain, market, live, keypair):
    mint = market.add_token(symbol="TKN", price_sol=Decimal("0.001"), decimals=6)
    mint_key = Pubkey.from_string(mint)
    pool = chain.pool(mint_key)
    pool_key, owner = pool.pubkey(), keypair.pubkey()
    instructions = [
        spl.create_associated_idempotent(pool_key, owner, mint_key),
        spl.transfer_checked(
            source=spl.associated_address(pool_key, mint_key),
            mint=mint_key,
            destination=spl.associated_address(owner, mint_key),
            owner=pool_key,
            amount=1_500_000,
            decimals=6,
        ),
    ]
    blockhash, _ = chain.latest_blockhash()
    message = MessageV0.try_compile(pool_key, instructions, [], blockhash)
    chain.send(VersionedTransaction(message, [pool]))
    chain.advance()

    result = wallet_reconcile(wallet=live).result

    assert result.has_drift is True
    assert {"token_address": mint, "on_chain": "1.5", "ledger": "0", "drift": "1.5"} in (
        result.balances
    )
    assert not Balance.objects.filter(wallet=live, token_address=mint).exists()


def test_a_surplus_while_a_trade_is_unresolved_is_drift_not_a_deposit(
    chain, live, keypair, monkeypatch
):
    seen = []

    def pending_trade(wallet):
        seen.append(wallet.pk)
        return True

    monkeypatch.setattr(reconcile_services, "BEFORE_COMPARE", [pending_trade])
    chain.fund(keypair.pubkey(), LAMPORTS)

    outcome = wallet_reconcile(wallet=live)

    assert seen == [live.pk]
    assert outcome.deposit is None and deposits(live) == []
    assert outcome.result.has_drift is True and drift_of(outcome.result) == Decimal("1")
    assert outcome.result.trade_in_flight is True  # the drift may be that trade's


def test_an_rpc_failure_records_nothing_and_other_wallets_are_still_reconciled(
    chain, market, live, keypair, user, capsys
):
    other_keypair = Keypair()
    other = live_wallet_of(agent_create(owner=user, name="Beta"), other_keypair)
    chain.fund(keypair.pubkey(), LAMPORTS)
    chain.fund(other_keypair.pubkey(), 2 * LAMPORTS)
    # Every attempt at the first wallet's first read (the call and its two retries) fails.
    market.inject_fault("solana_rpc", status=500, count=3)

    with pytest.raises(SystemExit) as exited:
        call_command("reconcile")

    assert exited.value.code == 1
    assert f"{live.address}  FAILED" in capsys.readouterr().out
    failed = WalletReconcile.objects.get(wallet=live)
    assert "500" in failed.error or "solana_rpc" in failed.error
    assert failed.succeeded_at is None and failed.balances == []
    assert deposits(live) == [] and ledger_sol(live) == 0
    assert [d.input_amount for d in deposits(other)] == [Decimal("2")]
    assert WalletReconcile.objects.get(wallet=other).error == ""
    failing = REGISTRY.get_sample_value(
        "nexgent_wallet_reconcile_failing", {"wallet": live.address}
    )
    assert failing == 1

    # The next run reads the chain again and records the deposit it could not see.
    wallets_reconcile()
    assert [d.input_amount for d in deposits(live)] == [Decimal("1")]
    assert WalletReconcile.objects.get(wallet=live).error == ""


def test_check_deposits_records_the_deposit_for_the_operator(chain, live, keypair, operator):
    chain.fund(keypair.pubkey(), LAMPORTS)

    response = operator.post(f"/api/v1/wallets/{live.address}/check-deposits")
    repeat = operator.post(f"/api/v1/wallets/{live.address}/check-deposits")

    assert response.status_code == 200, response.json()
    assert response.json()["deposit"]["amount"] == "1"
    assert response.json()["reconcile"]["has_drift"] is False
    assert repeat.status_code == 200 and repeat.json()["deposit"] is None
    assert len(deposits(live)) == 1


def test_check_deposits_with_the_rpc_down_answers_502_and_records_nothing(
    chain, market, live, keypair, operator
):
    chain.fund(keypair.pubkey(), LAMPORTS)
    market.inject_fault("solana_rpc", status=500, count=3)

    response = operator.post(f"/api/v1/wallets/{live.address}/check-deposits")

    assert response.status_code == 502
    assert response.json()["code"] == "chain_unavailable"
    assert deposits(live) == []


def test_check_deposits_refuses_a_simulation_wallet(wallet, operator, localnet):
    response = operator.post(f"/api/v1/wallets/{wallet.address}/check-deposits")

    assert response.status_code == 409
    assert response.json()["code"] == "simulation_wallet"


def test_the_scheduled_run_skips_while_another_is_going(chain, live, keypair):
    chain.fund(keypair.pubkey(), LAMPORTS)
    cache.add(tasks.RECONCILE_LOCK, "another run", timeout=60)

    tasks.wallets_reconcile()
    assert deposits(live) == []

    cache.delete(tasks.RECONCILE_LOCK)
    tasks.wallets_reconcile()
    assert len(deposits(live)) == 1


def test_a_surplus_in_a_wallet_without_an_agent_is_drift_until_it_is_assigned(chain, user, keypair):
    wallet = wallet_import(owner=user, secret=str(keypair))
    chain.fund(keypair.pubkey(), LAMPORTS)

    unassigned = wallet_reconcile(wallet=wallet)
    assert unassigned.deposit is None and deposits(wallet) == []
    assert drift_of(unassigned.result) == Decimal("1")

    wallet_assign(wallet=wallet, agent=agent_create(owner=user, name="Gamma"))
    assigned = wallet_reconcile(wallet=wallet)
    assert assigned.deposit.input_amount == Decimal("1")
    assert assigned.result.has_drift is False


def test_the_task_after_a_trade_reconciles_that_wallet_only(chain, live, keypair, wallet):
    chain.fund(keypair.pubkey(), LAMPORTS)

    tasks.wallet_reconcile(wallet.pk)  # a simulation wallet: nothing to read
    assert not WalletReconcile.objects.exists()

    tasks.wallet_reconcile(live.pk)
    assert len(deposits(live)) == 1
    age = REGISTRY.get_sample_value(
        "nexgent_wallet_reconcile_age_seconds", {"wallet": live.address}
    )
    assert age is not None and 0 <= age < 60


RACERS = 4


@on_postgres
def test_racing_reconciles_record_each_deposit_once(chain, live, keypair):
    """Every racer reads the same chain, then they meet at the wallet's lock: only the ledger
    read under it stands between them and a second DEPOSIT of the same SOL."""
    total = 0
    with Racers(RACERS) as racers:
        for round_number in range(1, 6):
            # A different amount each round: an identical airdrop would be the same transaction.
            chain.fund(keypair.pubkey(), round_number * LAMPORTS)
            total += round_number
            outcomes = racers.run(functools.partial(wallet_reconcile, wallet=live))
            assert [o.error for o in outcomes if o.error is not None] == []
            assert sum(o.value.deposit is not None for o in outcomes) == 1
            assert len(deposits(live)) == round_number
            assert ledger_sol(live) == total
