"""Fixtures shared by the whole suite. Rows are made through the project's services where a
service exists, so tests exercise the same write paths as the engine. External services are
faked only at the HTTP boundary, by localnet."""

import os
import threading
import time
from decimal import Decimal

import pytest
from django.core.cache import cache

from prices import providers

TEST_WALLET_MASTER_KEY = "test-master-key-" + "0123456789abcdef" * 2


def pytest_collection_modifyitems(config, items):
    if os.environ.get("NEXGENT_TEST_BACKEND") == "postgres":
        return
    skip = pytest.mark.skip(reason="runs on the PostgreSQL + Redis backend (make test-postgres)")
    for item in items:
        if "postgres" in item.keywords or "topology" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_runtime(settings):
    # Tasks run synchronously unless a test asks for the embedded pool or real workers, and no
    # cached price, lock or throttle count leaks from one test into the next.
    settings.TASK_MODE = "eager"
    # Hashing strength is not under test; a fast hasher keeps login tests quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A master key of the tests' own, so no test writes a key file into var/ by accident.
    settings.WALLET_MASTER_KEY = TEST_WALLET_MASTER_KEY
    cache.clear()
    providers.budgets_reset()
    yield
    cache.clear()
    providers.budgets_reset()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(
        email="operator@example.com", password="pw-12345678"
    )


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(email="other@example.com", password="pw-12345678")


@pytest.fixture
def market():
    from localnet.market import SyntheticMarket

    return SyntheticMarket(seed=1, sol_usd=Decimal("150"))


@pytest.fixture
def localnet(market, settings):
    """A local market on 127.0.0.1, with every market client of the engine pointed at it."""
    from localnet.serving import LocalnetServer

    server = LocalnetServer(market).start()
    for name, value in server.engine_settings().items():
        setattr(settings, name, value)
    yield server
    server.stop()


@pytest.fixture
def agent(user):
    from agents.services import agent_create

    return agent_create(owner=user, name="Alpha")


@pytest.fixture
def wallet(agent):
    return agent.wallets.get(mode="simulation")


@pytest.fixture
def funded_wallet(wallet):
    from trading.ledger_services import balance_deposit

    balance_deposit(wallet=wallet, amount=Decimal("10"))
    return wallet


@pytest.fixture
def api_key(user):
    from agents.services import api_key_create

    _, raw_key = api_key_create(owner=user, name="provider", scopes=["signals"])
    return raw_key


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def live_engine(settings, localnet):
    """uvicorn + embedded pool + in-process beat, as `python manage.py serve` runs them.
    Needs a test marked django_db(transaction=True), so the server threads see its rows."""
    import uvicorn

    from nexgent.celery import app as celery_app
    from nexgent.tasks import EmbeddedBeat, shutdown_embedded_pool
    from tests.harness import free_port

    settings.TASK_MODE = "embedded"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    # A channel layer of this server's own (channels makes a new one when the setting changes):
    # one kept from an earlier test's server holds state bound to that server's stopped loop.
    settings.CHANNEL_LAYERS = {**settings.CHANNEL_LAYERS}
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            "nexgent.asgi:application",
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    beat = EmbeddedBeat(
        celery_app, {"price-poll": {"task": "trading.tasks.price_poll", "schedule": 0.5}}
    )
    beat.start()
    yield f"127.0.0.1:{port}"
    beat.stop()
    server.should_exit = True
    thread.join(timeout=10)
    shutdown_embedded_pool(wait=True)
