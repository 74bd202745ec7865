"""nexgent.compiled: a query compiled once gives what the queryset itself gives, on both
backends, and runs as one query a call."""

import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from agents.services import agent_create
from nexgent.compiled import Compiled
from signals_app.models import TradingSignal
from trading.models import Balance
from trading.services import balance_deposit
from wallets.models import AgentWallet

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

AGENTS = Compiled(lambda owner_id: Agent.objects.filter(owner_id=owner_id).order_by("pk"))
WALLETS_WITH_AGENTS = Compiled(
    lambda agent_ids, mode: (
        AgentWallet.objects.select_related("agent__owner")
        .filter(agent_id__in=agent_ids, mode=mode)
        .order_by("pk")
    )
)
SOL = Compiled(
    lambda wallet_ids: (
        Balance.objects.filter(wallet_id__in=wallet_ids)
        .order_by("wallet_id")
        .values_list("wallet_id", "amount", "updated_at")
    )
)
NAMES = Compiled(
    lambda owner_id: (
        Agent.objects.filter(owner_id=owner_id).order_by("pk").values_list("name", flat=True)
    )
)


@pytest.fixture
def agents(user, other_user):
    made = [agent_create(owner=user, name=f"agent-{n}") for n in range(3)]
    agent_create(owner=other_user, name="someone else's")
    for n, agent in enumerate(made):
        balance_deposit(wallet=agent.wallets.get(mode="simulation"), amount=Decimal(f"1.{n}5"))
    return made


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


def test_models_are_the_querysets_own(agents, user, other_user):
    for owner in (user, other_user, user):  # compiled once, run again with other values
        expected = list(Agent.objects.filter(owner_id=owner.pk).order_by("pk"))
        found = AGENTS.models(owner_id=owner.pk)
        assert [_fields(a) for a in found] == [_fields(a) for a in expected]
        assert all(not agent._state.adding for agent in found)


def test_select_related_instances_are_filled_in(agents):
    ids = [agent.pk for agent in agents[:2]]
    wallets = WALLETS_WITH_AGENTS.models(agent_ids=ids, mode="simulation")
    expected = AgentWallet.objects.filter(agent_id__in=ids, mode="simulation").order_by("pk")
    assert [w.pk for w in wallets] == [w.pk for w in expected]
    with CaptureQueriesContext(connection) as queries:
        owners = [wallet.agent.owner.email for wallet in wallets]
    assert len(queries) == 0
    assert owners == [agent.owner.email for agent in agents[:2]]


def test_rows_are_converted_as_the_queryset_converts_them(agents):
    wallet_ids = list(
        AgentWallet.objects.filter(agent__in=agents, mode="simulation").values_list("pk", flat=True)
    )
    for ids in (wallet_ids, wallet_ids[:1], wallet_ids[1:]):  # one plan per length
        expected = list(
            Balance.objects.filter(wallet_id__in=ids)
            .order_by("wallet_id")
            .values_list("wallet_id", "amount", "updated_at")
        )
        found = SOL.rows(wallet_ids=ids)
        assert found == expected
        assert all(isinstance(amount, Decimal) for _, amount, _ in found)  # text on SQLite


def test_flat_rows_are_values(agents, user):
    assert NAMES.rows(owner_id=user.pk) == ["agent-0", "agent-1", "agent-2"]
    assert NAMES.first(owner_id=user.pk) == "agent-0"
    assert NAMES.first(owner_id=user.pk + 1000) is None


def test_an_empty_list_runs_the_plain_queryset(agents):
    assert SOL.rows(wallet_ids=[]) == []


def test_a_call_is_one_query(agents, user):
    AGENTS.models(owner_id=user.pk)
    with CaptureQueriesContext(connection) as queries:
        AGENTS.models(owner_id=user.pk)
    assert len(queries) == 1


def test_get_is_querysets_get(agents):
    one = Compiled(lambda pk: Agent.objects.filter(pk=pk))
    assert one.get(pk=agents[1].pk).name == "agent-1"
    with pytest.raises(Agent.DoesNotExist):
        one.get(pk=agents[-1].pk + 1000)


def test_str_values_are_parameters(agents):
    by_name = Compiled(lambda name: Agent.objects.filter(name=name).values_list("pk", flat=True))
    assert by_name.rows(name="agent-2") == [agents[2].pk]
    assert by_name.rows(name="nobody") == []


def test_values_of_other_types_are_refused(agents):
    by_active = Compiled(lambda active: Agent.objects.filter(is_active=active))
    with pytest.raises(TypeError, match="not bool"):
        by_active.models(active=True)
    by_day = Compiled(lambda since: Agent.objects.filter(created_at__gte=since))
    with pytest.raises(TypeError, match="not datetime"):
        by_day.models(since=datetime(2026, 1, 1))  # naive  # noqa: DTZ001


def test_aware_datetimes_are_parameters(agents):
    since = Compiled(
        lambda owner_id, since: (
            Agent.objects.filter(owner_id=owner_id, created_at__gte=since)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    )
    owner_id, cut = agents[0].owner_id, agents[1].created_at
    expected = list(
        Agent.objects.filter(owner_id=owner_id, created_at__gte=cut)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert expected == [agents[1].pk, agents[2].pk]
    assert since.rows(owner_id=owner_id, since=cut) == expected
    assert since.rows(owner_id=owner_id, since=cut + timedelta(days=1)) == []
    # Another zone, the same moment.
    assert since.rows(owner_id=owner_id, since=cut.astimezone(timezone(timedelta(hours=5)))) == (
        expected
    )


def test_small_integer_columns_take_parameters(agents, user):
    # A placeholder out of a column's range would make Django find nothing without asking.
    signal = TradingSignal.objects.create(
        owner=user, token_address="mint", signal_type="BUY", signal_strength=4, created_at=NOW
    )
    strength = Compiled(
        lambda strength: TradingSignal.objects.filter(signal_strength=strength).values_list(
            "pk", flat=True
        )
    )
    assert strength.rows(strength=4) == [signal.pk]
    assert strength.rows(strength=5) == []


def test_a_parameter_used_twice_is_refused(agents):
    twice = Compiled(lambda pk: Agent.objects.filter(pk=pk) | Agent.objects.filter(owner_id=pk))
    with pytest.raises(ValueError, match="exactly once"):
        twice.models(pk=agents[0].pk)


@pytest.mark.django_db(transaction=True)
def test_each_thread_compiles_for_its_own_connection(user):
    agent_create(owner=user, name="threaded")
    found = []

    def read():
        try:
            found.append(NAMES.rows(owner_id=user.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [["threaded"], ["threaded"]]
