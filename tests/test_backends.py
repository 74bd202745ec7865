"""Which real parts a run uses: these fail, never skip, when a run is not what it claims to be.

tests/run.py sets NEXGENT_TEST_BACKEND. A plain `pytest` without it is judged by DATABASE_URL,
so it still has to be wholly one backend or the other.
"""

import asyncio
import os
import uuid
from urllib.parse import urlsplit

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.db import connection

EXPECTED = os.environ.get("NEXGENT_TEST_BACKEND") or (
    "postgres" if os.environ.get("DATABASE_URL") else "sqlite"
)
on_postgres = EXPECTED == "postgres"


def backend_class(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def test_the_backend_is_one_the_suite_knows():
    assert EXPECTED in {"sqlite", "postgres"}, f"NEXGENT_TEST_BACKEND={EXPECTED!r}"


@pytest.mark.django_db
def test_the_database_is_the_expected_one():
    if on_postgres:
        assert connection.vendor == "postgresql"
        assert connection.Database.__name__ == "psycopg", "PostgreSQL is reached through psycopg 3"
        query = "SELECT current_setting('server_version_num')::int >= 130000"
    else:
        assert connection.vendor == "sqlite"
        query = "SELECT sqlite_version() IS NOT NULL"
    with connection.cursor() as cursor:
        cursor.execute(query)
        assert cursor.fetchone() == (True,)


def test_the_cache_is_the_expected_one():
    cache = caches["default"]
    key = f"backend-probe-{uuid.uuid4().hex}"
    value = {"probe": uuid.uuid4().hex}
    cache.set(key, value, timeout=60)
    try:
        assert cache.get(key) == value
        if on_postgres:
            from django_redis import get_redis_connection

            assert backend_class(cache) == "django_redis.cache.RedisCache"
            redis = get_redis_connection("default")
            assert redis.ping()
            server = redis.connection_pool.connection_kwargs
            assert server["port"] == urlsplit(settings.REDIS_URL).port
            # The value is in the Redis server itself, under the key the cache made for it.
            assert redis.exists(cache.make_key(key)) == 1
        else:
            assert backend_class(cache) == "django.core.cache.backends.locmem.LocMemCache"
    finally:
        cache.delete(key)


def test_the_channel_layer_is_the_expected_one():
    layer = get_channel_layer()
    if on_postgres:
        assert backend_class(layer) == "channels_redis.core.RedisChannelLayer"
    else:
        assert backend_class(layer) == "channels.layers.InMemoryChannelLayer"

    group = f"backend-probe-{uuid.uuid4().hex}"
    text = uuid.uuid4().hex

    async def round_trip():
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            await layer.group_send(group, {"type": "probe.message", "text": text})
            return await asyncio.wait_for(layer.receive(channel), timeout=10)
        finally:
            await layer.group_discard(group, channel)

    # The Redis layer closes this loop's connections as the loop closes (and only this loop's:
    # the engine's own event loop keeps its connections for the next events it sends).
    assert asyncio.run(round_trip()) == {"type": "probe.message", "text": text}


def test_tasks_go_where_the_backend_sends_them():
    # The configured mode, as the environment set it: the suite's fixtures override the live
    # setting so that most tests run tasks eagerly.
    from nexgent import settings as configured

    if on_postgres:
        from kombu import Connection

        assert configured.TASK_MODE == "celery"
        assert settings.CELERY_BROKER_URL == settings.REDIS_URL
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=5) as broker:
            broker.ensure_connection(max_retries=1)
    else:
        assert configured.TASK_MODE == "embedded"
        assert settings.CELERY_BROKER_URL == "memory://"
