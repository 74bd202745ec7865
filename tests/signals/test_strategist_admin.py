"""The strategist's rows in the admin: listed for operators, read-only, and the model's key
never on a page."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from signals_app.models import LlmCredential, StrategistCycle, StrategistDecision
from signals_app.strategist_services import llm_credential_set

pytestmark = pytest.mark.django_db

KEY = "sk-admin-secret-0123456789"


@pytest.fixture
def staff(client, django_user_model):
    admin = django_user_model.objects.create_user(
        email="ops@example.com", password="pw-12345678", is_staff=True, is_superuser=True
    )
    client.force_login(admin)
    return admin


@pytest.fixture
def rows(user, agent):
    credential = llm_credential_set(
        owner=user, base_url="https://api.example.com/v1", model="gpt-admin", api_key=KEY
    )
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    cycle = StrategistCycle.objects.create(
        agent=agent, slot=moment, started_at=moment, status="done", model="gpt-admin"
    )
    decision = StrategistDecision.objects.create(
        cycle=cycle,
        index=0,
        action="open",
        token_address="MintAdmin",
        size_sol=Decimal("0.1"),
        verdict="refused",
        verdict_reason="size_above_limit",
        outcome="skipped",
    )
    return {"credential": credential, "cycle": cycle, "decision": decision}


@pytest.mark.parametrize("model", ["llmcredential", "strategistcycle", "strategistdecision"])
def test_the_changelists_answer(client, staff, rows, model):
    page = client.get(f"/admin/signals_app/{model}/")

    assert page.status_code == 200
    assert KEY not in page.content.decode()


def test_filters_by_status_answer(client, staff, rows):
    assert client.get("/admin/signals_app/strategistcycle/?status__exact=done").status_code == 200


def test_a_cycle_shows_its_decisions_read_only(client, staff, rows):
    page = client.get(f"/admin/signals_app/strategistcycle/{rows['cycle'].pk}/change/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "MintAdmin" in body and 'name="status"' not in body


def test_the_credential_is_read_only_without_its_key(client, staff, rows):
    credential = rows["credential"]
    page = client.get(f"/admin/signals_app/llmcredential/{credential.pk}/change/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "gpt-admin" in body and KEY not in body and "encrypted_key" not in body
    assert client.get("/admin/signals_app/llmcredential/add/").status_code == 403
    client.post(
        f"/admin/signals_app/llmcredential/{credential.pk}/change/",
        {"model": "changed", "base_url": "https://evil.example/v1"},
    )
    assert LlmCredential.objects.get(pk=credential.pk).model == "gpt-admin"
