"""nexgent.tasks.delay_many: several calls of a task queued at once. On the broker they go out
in one Redis round trip, and a failed batch is sent again one message at a time; in the
in-process modes each call runs as task.delay would run it."""

import base64
import json

import pytest
import redis
from django.conf import settings as django_settings
from kombu.transport.redis import PublishBatch

from nexgent.tasks import delay_many
from signals_app.tasks import signal_execute_batch

CALLS = [(101, [1, 2, 3], 6), (102, [4, 5], None), (103, [6], 0)]
QUEUE = "celery"  # Celery's default queue: the one these messages are routed to


@pytest.fixture
def broker(settings):
    """The real Redis broker, with no worker consuming: what is queued stays to be read."""
    if not django_settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs the Redis broker (PostgreSQL + Redis backend)")
    settings.TASK_MODE = "celery"
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    client.delete(QUEUE)
    yield client
    client.delete(QUEUE)  # never left for a later test's worker


def _queued(client) -> list[tuple]:
    """The queued messages' task names and arguments, oldest first (kombu LPUSHes, and a worker
    takes from the other end)."""
    messages = [json.loads(raw) for raw in reversed(client.lrange(QUEUE, 0, -1))]
    return [
        (message["headers"]["task"], tuple(json.loads(base64.b64decode(message["body"]))[0]))
        for message in messages
    ]


@pytest.fixture
def writes_to_redis(monkeypatch):
    """The writes this process makes to Redis that queue messages, each as its number of
    LPUSHes, seen on their way (observed, not faked): a pipeline's commands go in one write,
    separate commands in one write each."""
    from redis.connection import AbstractConnection

    writes = []
    original = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list) else command
        if b"LPUSH" in packed:  # a message queued (not the connection's own handshake)
            writes.append(packed.count(b"LPUSH"))
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return writes


def test_the_calls_are_queued_in_order_in_one_write(broker, writes_to_redis):
    delay_many(signal_execute_batch, CALLS)

    assert writes_to_redis == [len(CALLS)]  # one write holding every message
    assert _queued(broker) == [(signal_execute_batch.name, call) for call in CALLS]


def test_a_failed_batch_is_sent_again_one_message_at_a_time(broker, monkeypatch, writes_to_redis):
    def broken(self):
        raise redis.ConnectionError("the broker went away")

    # The broker failing at the library boundary, where the batch's pipeline executes.
    monkeypatch.setattr(PublishBatch, "flush", broken)

    delay_many(signal_execute_batch, CALLS)

    assert writes_to_redis == [1] * len(CALLS)
    assert _queued(broker) == [(signal_execute_batch.name, call) for call in CALLS]


def test_nothing_is_queued_for_no_calls(broker):
    delay_many(signal_execute_batch, [])

    assert _queued(broker) == []


def test_in_process_each_call_runs_in_order(settings, monkeypatch):
    settings.TASK_MODE = "eager"
    ran = []
    monkeypatch.setattr(
        signal_execute_batch,
        "run",
        lambda signal_id, agent_ids, decimals=None: ran.append((signal_id, agent_ids, decimals)),
    )

    delay_many(signal_execute_batch, CALLS)

    assert [tuple(call) for call in ran] == CALLS
