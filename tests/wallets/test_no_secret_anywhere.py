"""A live wallet's key is in no log line, no API answer but the export's, no admin page and no
database column in the clear."""

import json
import logging

import pytest
from django.db import connection
from solders.pubkey import Pubkey

from wallets.services import wallet_assign

pytestmark = pytest.mark.django_db
PASSWORD = "pw-12345678"


def _forms(keypair) -> tuple[list[str], list[bytes]]:
    """Every way the key could be written: as text, and as bytes."""
    seed, whole = bytes(keypair)[:32], bytes(keypair)
    texts = [str(keypair), str(Pubkey(seed)), json.dumps(list(whole)), seed.hex(), whole.hex()]
    return texts, [seed, whole]


def _every_stored_value():
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                yield from row


def test_the_key_is_nowhere_but_the_export(operator, agent, keypair, caplog, client, user):
    texts, raw = _forms(keypair)
    with caplog.at_level(logging.DEBUG):
        answers = [
            operator.post("/api/v1/wallets", {"secret": str(keypair)}, format="json"),
            operator.get("/api/v1/wallets"),
            operator.post(
                f"/api/v1/wallets/{keypair.pubkey()}/assign", {"agent_id": agent.pk}, format="json"
            ),
            operator.get(f"/api/v1/agents/{agent.pk}/wallets"),
            operator.post(
                f"/api/v1/wallets/{keypair.pubkey()}/export", {"password": "wrong"}, format="json"
            ),
        ]
        exported = operator.post(
            f"/api/v1/wallets/{keypair.pubkey()}/export", {"password": PASSWORD}, format="json"
        )
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 403]
    assert exported.status_code == 200 and exported.json()["secret_key"] == str(keypair)
    for answer in answers:
        assert not any(text in answer.content.decode() for text in texts)
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert str(keypair.pubkey()) in logged  # the log does tell what happened, by address
    assert not any(text in logged for text in texts)
    assert "exported the key of wallet" in caplog.text

    stored = list(_every_stored_value())
    for value in stored:
        if isinstance(value, bytes | memoryview):
            assert not any(secret in bytes(value) for secret in raw)
        elif isinstance(value, str):
            assert not any(text in value for text in texts)
    assert any(value == str(keypair.pubkey()) for value in stored)  # the scan saw the wallet


def test_the_admin_shows_the_wallet_and_never_its_key(
    admin_client, user, agent, live_wallet, keypair
):
    wallet = wallet_assign(wallet=live_wallet, agent=agent)
    texts, _ = _forms(keypair)
    listing = admin_client.get("/admin/wallets/agentwallet/")
    page = admin_client.get(f"/admin/wallets/agentwallet/{wallet.pk}/change/")
    assert listing.status_code == page.status_code == 200
    for answer in (listing, page):
        html = answer.content.decode()
        assert wallet.address in html and agent.name in html
        assert not any(text in html for text in texts)
        assert "encrypted" not in html and "salt" not in html and "nonce" not in html
    # Read-only: no saving, no deleting (a live wallet's key would go with it).
    assert (
        admin_client.post(f"/admin/wallets/agentwallet/{wallet.pk}/change/", {}).status_code == 403
    )
    assert admin_client.get(f"/admin/wallets/agentwallet/{wallet.pk}/delete/").status_code == 403
