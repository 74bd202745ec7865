"""POST trades/execute: a manual buy against localnet's market. It opens a position as a
signal's buy does, behind the same guards; a retry with its Idempotency-Key answers the same
trade and never buys twice; every refusal is a clear JSON error that writes nothing."""

import functools
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from agents.services import agent_create, api_key_create
from nexgent import money
from tests.backends import on_postgres
from tests.trading.ledger import Racers
from tests.trading.live_support import assert_chain_equals_ledger
from trading.manual_services import trade_manual_buy
from trading.models import Balance, LiveSwap, Position, Transaction, TransactionType
from trading.risk_services import kill_switch_set

URL = "/api/v1/trades/execute"


@pytest.fixture
def operator(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def bonk(market):
    return market.add_token(
        symbol="BONK", price_sol=Decimal("0.0001"), decimals=6, liquidity_sol=Decimal("1000")
    )


def _buy(client, agent, token, key=None, **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        URL, {"agent_id": agent.pk, "token_address": token, **body}, format="json", **headers
    )


def _sol(wallet) -> Decimal:
    return Balance.objects.get(wallet=wallet, token_address=money.WSOL_MINT).amount


def _swaps(wallet) -> int:
    return Transaction.objects.filter(wallet=wallet, type=TransactionType.SWAP).count()


def _refused(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.content
    body = answer.json()
    assert set(body) == {"error", "code", "details"} and body["code"] == code
    return body


@pytest.mark.django_db
class TestSimulation:
    def test_a_manual_buy_opens_a_position_and_answers_it_with_its_entry(
        self, localnet, operator, agent, funded_wallet, bonk
    ):
        answer = _buy(operator, agent, bonk, sol_amount="1")

        assert answer.status_code == 201, answer.content
        body = answer.json()
        position = Position.objects.get(wallet=funded_wallet)
        entry = Transaction.objects.get(wallet=funded_wallet, type=TransactionType.SWAP)
        assert body["position"]["id"] == position.pk
        assert body["position"]["token_address"] == bonk
        assert body["position"]["total_invested_sol"] == money.as_str(entry.input_amount)
        assert body["transaction"]["id"] == entry.pk
        assert body["transaction"]["position"] == position.pk
        assert entry.signal_id is None
        assert _sol(funded_wallet) == Decimal(10) - entry.input_amount
        assert entry.input_amount - entry.protocol_fee_sol - entry.network_fee_sol == 1

    def test_without_an_amount_the_agents_rules_size_the_buy(
        self, localnet, operator, agent, funded_wallet, bonk
    ):
        answer = _buy(operator, agent, bonk)

        assert answer.status_code == 201, answer.content
        assert Decimal(answer.json()["position"]["total_invested_sol"]) > 0

    def test_a_retry_with_its_key_answers_the_same_trade_and_buys_once(
        self, localnet, operator, agent, funded_wallet, bonk
    ):
        first = _buy(operator, agent, bonk, key="buy-0001", sol_amount="1")
        again = _buy(operator, agent, bonk, key="buy-0001", sol_amount="1.000")

        assert (first.status_code, again.status_code) == (201, 200)
        assert again["Idempotent-Replayed"] == "true"
        assert again.json()["transaction"] == first.json()["transaction"]
        assert again.json()["position"]["id"] == first.json()["position"]["id"]
        assert _swaps(funded_wallet) == 1

    def test_the_key_for_another_buy_is_refused(
        self, localnet, market, operator, agent, funded_wallet, bonk
    ):
        other = market.add_token(
            symbol="WIF", price_sol=Decimal("0.01"), decimals=6, liquidity_sol=Decimal("1000")
        )
        assert _buy(operator, agent, bonk, key="k1", sol_amount="1").status_code == 201
        balance = _sol(funded_wallet)

        for body in ({"sol_amount": "2"}, {}):
            _refused(_buy(operator, agent, bonk, key="k1", **body), 409, "idempotency_key_reused")
        _refused(
            _buy(operator, agent, other, key="k1", sol_amount="1"), 409, "idempotency_key_reused"
        )
        assert _sol(funded_wallet) == balance and _swaps(funded_wallet) == 1

    def test_a_refused_buy_may_be_retried_with_its_key_once_it_can_go_ahead(
        self, localnet, operator, agent, wallet, bonk
    ):
        _refused(_buy(operator, agent, bonk, key="k2", sol_amount="1"), 409, "insufficient_balance")
        operator.post(
            f"/api/v1/agents/{agent.pk}/transactions",
            {"type": "DEPOSIT", "amount": "5"},
            format="json",
        )
        assert _buy(operator, agent, bonk, key="k2", sol_amount="1").status_code == 201

    def test_keys_are_each_agents_own(self, localnet, operator, user, agent, funded_wallet, bonk):
        beta = agent_create(owner=user, name="Beta")
        operator.post(
            f"/api/v1/agents/{beta.pk}/transactions",
            {"type": "DEPOSIT", "amount": "5"},
            format="json",
        )
        assert _buy(operator, agent, bonk, key="same", sol_amount="1").status_code == 201
        assert _buy(operator, beta, bonk, key="same", sol_amount="1").status_code == 201

    def test_no_balance_is_refused_before_any_swap(
        self, localnet, market, operator, agent, wallet, bonk
    ):
        market.clear_recorded()
        body = _refused(_buy(operator, agent, bonk, sol_amount="1"), 409, "insufficient_balance")

        assert "SOL balance 0" in body["error"]
        assert not market.recorded("jupiter_quote")
        assert not Position.objects.exists()

    def test_more_than_the_balance_is_refused(self, localnet, operator, agent, funded_wallet, bonk):
        _refused(_buy(operator, agent, bonk, sol_amount="11"), 409, "insufficient_balance")
        assert _swaps(funded_wallet) == 0

    def test_the_kill_switch_blocks_a_manual_buy_as_it_does_a_signals(
        self, localnet, operator, agent, funded_wallet, bonk
    ):
        for mode in ("reduce_only", "halt"):
            kill_switch_set(mode=mode, user=None)
            _refused(_buy(operator, agent, bonk, sol_amount="1"), 409, f"kill_switch_{mode}")
        assert _swaps(funded_wallet) == 0

    def test_max_open_positions_blocks_with_its_figures(
        self, localnet, market, operator, agent, funded_wallet, bonk
    ):
        operator.patch(
            f"/api/v1/agents/{agent.pk}/config", {"risk": {"max_open_positions": 1}}, format="json"
        )
        other = market.add_token(
            symbol="WIF", price_sol=Decimal("0.01"), decimals=6, liquidity_sol=Decimal("1000")
        )
        assert _buy(operator, agent, bonk, sol_amount="1").status_code == 201

        body = _refused(_buy(operator, agent, other, sol_amount="1"), 409, "max_open_positions")
        assert "open_positions: 1" in body["error"]

    def test_a_second_buy_of_a_held_token_is_refused(
        self, localnet, operator, agent, funded_wallet, bonk
    ):
        assert _buy(operator, agent, bonk, sol_amount="1").status_code == 201
        _refused(_buy(operator, agent, bonk, sol_amount="1"), 409, "position_exists")
        assert _swaps(funded_wallet) == 1

    def test_a_mint_no_market_lists_is_400_naming_it(
        self, localnet, operator, agent, funded_wallet
    ):
        unknown = "So11111111111111111111111111111111111111112".replace("So", "Zz")
        body = _refused(_buy(operator, agent, unknown, sol_amount="1"), 400, "token_unknown")

        assert body["details"][0]["field"] == "token_address"
        assert _swaps(funded_wallet) == 0

    def test_someone_elses_agent_and_an_unknown_one_are_404(
        self, localnet, operator, other_user, bonk
    ):
        theirs = agent_create(owner=other_user, name="Theirs")
        _refused(_buy(operator, theirs, bonk, sol_amount="1"), 404, "not_found")
        answer = operator.post(
            URL, {"agent_id": 999_999, "token_address": bonk, "sol_amount": "1"}, format="json"
        )
        _refused(answer, 404, "not_found")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"token_address": "not-a-mint"}, "token_address"),
            ({"token_address": "1" * 44}, "token_address"),
            ({"sol_amount": "0"}, "sol_amount"),
            ({"sol_amount": "-1"}, "sol_amount"),
            ({"signal_id": 1}, "signal_id"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, operator, agent, bonk, body, field):
        answer = operator.post(
            URL, {"agent_id": agent.pk, "token_address": bonk, **body}, format="json"
        )
        body = _refused(answer, 400, "validation_error")
        assert field in {detail["field"] for detail in body["details"]}

    def test_an_api_key_needs_full_access_to_buy(self, api_client, user, agent, bonk):
        _, positions = api_key_create(owner=user, name="read", scopes=["positions"])
        answer = api_client.post(
            URL,
            {"agent_id": agent.pk, "token_address": bonk},
            format="json",
            HTTP_X_API_KEY=positions,
        )
        assert answer.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_live_agents_manual_buy_swaps_on_chain_once(chain, user, live_agent, live_wallet, token):
    operator = APIClient()
    operator.force_authenticate(user)

    first = _buy(operator, live_agent, token, key="live-1", sol_amount="0.5")
    again = _buy(operator, live_agent, token, key="live-1", sol_amount="0.5")

    assert (first.status_code, again.status_code) == (201, 200), first.content
    swap = LiveSwap.objects.get(wallet=live_wallet)
    assert swap.status == "landed"
    entry = Transaction.objects.get(wallet=live_wallet)
    assert entry.tx_signature == swap.signature
    assert entry.idempotency_key == swap.action_key == f"manual:{live_agent.pk}:live-1"
    assert_chain_equals_ledger(chain, live_wallet, token)


@on_postgres
def test_racing_retries_of_one_manual_buy_buy_once(localnet, agent, funded_wallet, bonk):
    buy = functools.partial(
        trade_manual_buy,
        agent=agent,
        token_address=bonk,
        sol_amount=Decimal("1"),
        idempotency_key="race-1",
    )
    with Racers(6) as racers:
        outcomes = racers.run(buy)

    assert [o.error for o in outcomes if o.error is not None] == []
    assert sum(o.value.created for o in outcomes) == 1
    assert len({o.value.transaction.pk for o in outcomes}) == 1
    assert _swaps(funded_wallet) == 1
