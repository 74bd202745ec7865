"""The wallet endpoints: create and import, list, assign, and the errors that change nothing."""

import json

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from agents.models import TradingMode
from agents.services import agent_create, api_key_create
from wallets.keys import ACCEPTED_FORMATS
from wallets.models import AgentWallet
from wallets.services import wallet_assign, wallet_keypair

pytestmark = pytest.mark.django_db


def test_create_makes_a_new_unassigned_live_wallet_whose_key_opens(operator, user):
    answer = operator.post("/api/v1/wallets", {}, format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert set(body) == {"address", "mode", "agent_id", "created_at"}
    assert body["mode"] == "live" and body["agent_id"] is None
    wallet = AgentWallet.objects.get(address=body["address"])
    assert wallet.owner == user
    assert str(wallet_keypair(wallet).pubkey()) == body["address"]


def test_create_without_the_slash_too(operator):
    assert operator.post("/api/v1/wallets", {}, format="json").status_code == 201


SEED_FORMATS = {
    "base58 seed": lambda k: str(Pubkey(bytes(k)[:32])),
    "base58 secret key": str,
    "solana cli json": lambda k: json.dumps(list(bytes(k))),
}


@pytest.mark.parametrize("write", SEED_FORMATS.values(), ids=SEED_FORMATS.keys())
def test_import_reads_every_format(operator, keypair, write):
    answer = operator.post("/api/v1/wallets", {"secret": write(keypair)}, format="json")
    assert answer.status_code == 201, answer.json()
    assert answer.json()["address"] == str(keypair.pubkey())
    assert str(keypair) not in answer.content.decode()
    wallet = AgentWallet.objects.get(address=str(keypair.pubkey()))
    assert bytes(wallet_keypair(wallet)) == bytes(keypair)


MISMATCHED = bytes(Keypair())[:32] + bytes(Keypair().pubkey())
BAD_IMPORTS = {
    "garbage": "not a key at all",
    "wrong public half": json.dumps(list(MISMATCHED)),
    "short json": json.dumps([1] * 63),
    "empty": "",
    "a number": 12345,
    "a list": [1, 2, 3],
}


@pytest.mark.parametrize("secret", BAD_IMPORTS.values(), ids=BAD_IMPORTS.keys())
def test_a_bad_import_is_a_400_naming_secret_that_writes_nothing(operator, secret):
    before = AgentWallet.objects.count()
    answer = operator.post("/api/v1/wallets", {"secret": secret}, format="json")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "validation_error"
    assert [d["field"] for d in body["details"]] == ["secret"]
    if isinstance(secret, str) and secret:
        assert ACCEPTED_FORMATS in body["details"][0]["message"]
        assert secret not in answer.content.decode()
    assert AgentWallet.objects.count() == before


def test_an_unknown_field_is_a_400(operator):
    answer = operator.post("/api/v1/wallets", {"private_key": "x"}, format="json")
    assert answer.status_code == 400
    assert [d["field"] for d in answer.json()["details"]] == ["private_key"]


def test_the_same_key_twice_is_a_409_and_one_wallet(operator, keypair):
    first = operator.post("/api/v1/wallets", {"secret": str(keypair)}, format="json")
    second = operator.post(
        "/api/v1/wallets", {"secret": json.dumps(list(bytes(keypair)))}, format="json"
    )
    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json()["code"] == "wallet_exists"
    assert AgentWallet.objects.filter(address=str(keypair.pubkey())).count() == 1


def test_api_keys_cannot_create_wallets(api_client, user):
    _, raw = api_key_create(owner=user, name="full", scopes=["full_access"])
    answer = api_client.post("/api/v1/wallets", {}, format="json", HTTP_X_API_KEY=raw)
    assert answer.status_code == 403
    assert AgentWallet.objects.filter(mode="live").count() == 0


def test_wallet_actions_are_throttled(operator):
    answers = [operator.post("/api/v1/wallets", {}, format="json").status_code for _ in range(6)]
    assert answers == [201] * 5 + [429]
    assert operator.get("/api/v1/wallets").status_code == 200  # reads are not counted


def test_list_shows_an_agents_wallets_and_the_operators_live_wallets(
    operator, agent, live_wallet, user
):
    spare = agent_create(owner=user, name="Beta")
    wallet_assign(wallet=live_wallet, agent=agent)
    answer = operator.get(f"/api/v1/agents/{agent.pk}/wallets")
    assert answer.status_code == 200
    assert [(w["mode"], w["agent_id"]) for w in answer.json()["wallets"]] == [
        ("live", agent.pk),
        ("simulation", agent.pk),
    ]
    assert operator.get(f"/api/v1/agents/{spare.pk}/wallets").json()["wallets"][0]["mode"] == (
        "simulation"
    )
    mine = operator.get("/api/v1/wallets").json()["wallets"]
    assert [w["address"] for w in mine] == [live_wallet.address]


def test_someone_elses_wallets_and_agents_are_404(operator, other_user, agent):
    theirs = agent_create(owner=other_user, name="Theirs")
    assert operator.get(f"/api/v1/agents/{theirs.pk}/wallets").status_code == 404
    from wallets.services import wallet_create_live

    their_wallet = wallet_create_live(owner=other_user)
    answer = operator.post(
        f"/api/v1/wallets/{their_wallet.address}/assign", {"agent_id": agent.pk}, format="json"
    )
    assert answer.status_code == 404
    assert operator.get("/api/v1/wallets").json()["wallets"] == []


def test_assign_gives_the_agent_its_live_wallet(operator, agent, live_wallet):
    answer = operator.post(
        f"/api/v1/wallets/{live_wallet.address}/assign", {"agent_id": agent.pk}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["agent_id"] == agent.pk
    assert agent.wallets.get(mode=TradingMode.LIVE) == live_wallet


def test_assign_to_someone_elses_agent_is_404(operator, other_user, live_wallet):
    theirs = agent_create(owner=other_user, name="Theirs")
    answer = operator.post(
        f"/api/v1/wallets/{live_wallet.address}/assign", {"agent_id": theirs.pk}, format="json"
    )
    assert answer.status_code == 404
    live_wallet.refresh_from_db()
    assert live_wallet.agent_id is None


def test_a_second_live_wallet_for_an_agent_is_refused(operator, agent, live_wallet, user):
    wallet_assign(wallet=live_wallet, agent=agent)
    from wallets.services import wallet_create_live

    second = wallet_create_live(owner=user)
    answer = operator.post(
        f"/api/v1/wallets/{second.address}/assign", {"agent_id": agent.pk}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "agent_has_live_wallet"
    second.refresh_from_db()
    assert second.agent_id is None


def test_a_wallet_of_another_agent_must_be_unassigned_first(operator, agent, live_wallet, user):
    wallet_assign(wallet=live_wallet, agent=agent)
    other = agent_create(owner=user, name="Beta")
    answer = operator.post(
        f"/api/v1/wallets/{live_wallet.address}/assign", {"agent_id": other.pk}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "wallet_assigned"


def test_a_simulation_wallet_cannot_be_assigned(operator, agent, wallet, user):
    other = agent_create(owner=user, name="Beta")
    answer = operator.post(
        f"/api/v1/wallets/{wallet.address}/assign", {"agent_id": other.pk}, format="json"
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "simulation_wallet"


def test_deleting_an_agent_keeps_its_live_wallet_unassigned(operator, agent, live_wallet, wallet):
    wallet_assign(wallet=live_wallet, agent=agent)
    assert operator.delete(f"/api/v1/agents/{agent.pk}").status_code == 204
    live_wallet.refresh_from_db()
    assert live_wallet.agent_id is None
    assert not AgentWallet.objects.filter(pk=wallet.pk).exists()
    assert str(wallet_keypair(live_wallet).pubkey()) == live_wallet.address
