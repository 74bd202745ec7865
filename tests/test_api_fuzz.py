"""API fuzzing: schemathesis generates requests from the OpenAPI schema (drf-spectacular,
built in-process) and sends them to the WSGI application in this process. Every answer must
be no server error, with a status, a content type and a body the schema documents.

Each operation is one test, run as an operator (the JWT from auth/login) and with a
full-access API key, on schema-valid (positive) and schema-breaking (negative) input. Path ids
are sometimes those of real rows (an agent with a funded wallet and a live wallet, an open
position, a pause, a signal, an API key), so the handlers behind the 404 are fuzzed too.

Examples per operation and mode: NEXGENT_FUZZ_EXAMPLES (default 10, derandomised so CI
is repeatable); raise it for a deeper search, e.g. NEXGENT_FUZZ_EXAMPLES=300.
"""

import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agents.models import ApiKeyScope
from agents.services import agent_create, api_key_create
from signals_app.services import signal_create
from trading.ledger_services import balance_deposit
from trading.models import RiskPause
from trading.services import position_buy
from wallets.services import wallet_assign, wallet_create_live

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("NEXGENT_FUZZ_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
PASSWORD = "pw-fuzz-12345678"

# Every request carries the test's credential; schemathesis' own made-up tokens, keys and
# cookies would only buy 401s (tested in tests/agents).
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
SCHEMA = schemathesis.openapi.from_dict(
    SchemaGenerator().get_schema(request=None, public=True), config=CONFIG
)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# Negative cases need something to break: a parameter or a body.
RUNS = [
    (operation, mode)
    for operation in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or operation.body or any(operation.iter_parameters())
]


@pytest.fixture
def wsgi_app(settings):
    """The project's WSGI application, inside this test's database transaction: Django's test
    client also keeps the connection open across requests, which close_old_connections would
    close (and the transaction with it)."""
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def operator(django_user_model):
    # Staff, so the kill switch answers something else than 403 too.
    return django_user_model.objects.create_user(
        email="fuzz@example.com", password=PASSWORD, is_staff=True
    )


@pytest.fixture
def rows(operator, localnet, market):
    """One of each row a path names, made through the services."""
    agent = agent_create(owner=operator, name="Fuzzed")
    wallet = agent.wallets.get(mode="simulation")
    balance_deposit(wallet=wallet, amount=Decimal("10"))
    token = market.add_token(
        symbol="FUZZ", price_sol=Decimal("0.001"), decimals=6, liquidity_sol=Decimal("5000")
    )
    position = position_buy(
        agent=agent,
        wallet=wallet,
        token_address=token,
        sol_amount=Decimal("1"),
        stop_loss_percent=Decimal("-32"),
    ).position
    signal, _ = signal_create(
        owner=operator, token_address=token, signal_type="BUY", signal_strength=3
    )
    key, _ = api_key_create(owner=operator, name="fuzzed", scopes=["signals"])
    # No service opens a pause by hand: the guards do, after real losses (tests/trading).
    pause = RiskPause.objects.create(
        agent=agent, reason="daily_loss_limit", started_at=datetime.now(UTC)
    )
    # A live wallet assigned to the agent, so the wallet actions (assign, unassign, reset,
    # export) meet a real one too.
    live = wallet_assign(wallet=wallet_create_live(owner=operator), agent=agent)
    return {
        "address": live.address,
        "agent_id": agent.pk,
        "position_id": position.pk,
        "pause_id": pause.pk,
        "signal_id": signal.pk,
        "api_key_id": key.pk,
    }


def _real_path_ids(operation, rows) -> dict:
    names = {parameter.name for parameter in operation.path_parameters}
    ids = {name: rows[name] for name in names if name in rows}
    if "id" in names:
        ids["id"] = rows["api_key_id" if "/api-keys/" in operation.path else "agent_id"]
    return ids


def _jwt_header(wsgi_app, operator) -> dict:
    # Through the same WSGI app (Django's test client would connect close_old_connections
    # again when it finishes).
    login = SCHEMA["/api/v1/auth/login"]["POST"].Case(
        body={"email": operator.email, "password": PASSWORD}, media_type="application/json"
    )
    response = login.call(app=wsgi_app)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access']}"}


def _api_key_header(operator) -> dict:
    _, raw_key = api_key_create(owner=operator, name="fuzzer", scopes=list(ApiKeyScope.values))
    return {"X-API-Key": raw_key}


def _cases(operation, rows, mode):
    generated = operation.as_strategy(generation_mode=mode)
    real = _real_path_ids(operation, rows)
    if not real:
        return generated
    return st.one_of(generated, operation.as_strategy(generation_mode=mode, path_parameters=real))


@pytest.mark.parametrize("credential", ["jwt", "api_key"])
@pytest.mark.parametrize(
    ("operation", "mode"), RUNS, ids=[f"{op.label}-{mode}" for op, mode in RUNS]
)
def test_the_api_answers_as_its_schema_says(operation, mode, credential, wsgi_app, operator, rows):
    headers = _jwt_header(wsgi_app, operator) if credential == "jwt" else _api_key_header(operator)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation, rows, mode))
    def fuzz(case):
        case.call_and_validate(app=wsgi_app, headers=headers, checks=CHECKS)

    fuzz()


def _server_error_app(environ, start_response):
    """A deliberately broken endpoint: Django's plain 500 page, whatever was asked."""
    start_response("500 Internal Server Error", [("Content-Type", "text/html")])
    return [b"<h1>Server Error (500)</h1>"]


def _failures(error: BaseException) -> set[str]:
    """The kinds of check failure one call raised (one, or a group of several)."""
    found = error.exceptions if isinstance(error, BaseExceptionGroup) else (error,)
    return {type(failure).__name__ for failure in found}


def test_the_fuzzer_fails_on_a_server_error():
    case = SCHEMA["/api/v1/auth/me"]["GET"].Case()
    with pytest.raises((AssertionError, BaseExceptionGroup)) as failed:
        case.call_and_validate(app=_server_error_app, checks=CHECKS)
    assert "ServerError" in _failures(failed.value)


def test_the_fuzzer_fails_on_an_undocumented_status(wsgi_app, operator, rows):
    """The real endpoint against a schema that does not document its 200."""
    raw = SchemaGenerator().get_schema(request=None, public=True)
    del raw["paths"]["/api/v1/auth/me"]["get"]["responses"]["200"]
    case = schemathesis.openapi.from_dict(raw)["/api/v1/auth/me"]["GET"].Case()
    with pytest.raises((AssertionError, BaseExceptionGroup)) as failed:
        case.call_and_validate(app=wsgi_app, headers=_jwt_header(wsgi_app, operator), checks=CHECKS)
    assert _failures(failed.value) == {"UndefinedStatusCode"}
