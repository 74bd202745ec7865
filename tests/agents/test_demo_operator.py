"""`make run` creates the demo operator once and prints its password that one time only."""

from io import StringIO

import pytest
from django.core.management import call_command

from agents.models import User

pytestmark = pytest.mark.django_db


def test_the_password_is_printed_only_when_the_operator_is_created(client):
    first, second = StringIO(), StringIO()
    call_command("ensure_demo_operator", stdout=first)
    call_command("ensure_demo_operator", stdout=second)

    printed = first.getvalue()
    password = printed.split("password:")[1].split()[0]
    assert "email:    demo@nexgent.local" in printed
    assert "exists" in second.getvalue() and "password:" not in second.getvalue()
    assert password not in second.getvalue()
    assert User.objects.filter(is_superuser=True).count() == 1
    assert client.login(username="demo@nexgent.local", password=password)
