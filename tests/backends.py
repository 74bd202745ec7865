"""Which backend the suite runs on (tests/run.py sets NEXGENT_TEST_BACKEND), and the marks of
a test that needs the real PostgreSQL + Redis one."""

import os

import pytest

ON_POSTGRES = os.environ.get("NEXGENT_TEST_BACKEND") == "postgres"


def on_postgres(test):
    """Real concurrency: PostgreSQL row locks, committed rows that other threads and processes
    can see."""
    marks = [
        pytest.mark.postgres,
        pytest.mark.skipif(not ON_POSTGRES, reason="needs the PostgreSQL + Redis backend"),
        pytest.mark.django_db(transaction=True),
    ]
    for mark in marks:
        test = mark(test)
    return test
