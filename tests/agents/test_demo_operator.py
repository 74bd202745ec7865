"""`make run` creates the demo operator once and tells where to log in."""

from io import StringIO

import pytest
from django.core.management import call_command

from agents.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_operator_is_created_once_with_a_working_password(client):
    first, second = StringIO(), StringIO()
    call_command("ensure_demo_operator", login_url="http://127.0.0.1:8765/login/", stdout=first)
    call_command("ensure_demo_operator", stdout=second)

    printed = first.getvalue()
    password = printed.split("password:")[1].split()[0]
    assert "Log in at http://127.0.0.1:8765/login/" in printed
    assert "exists" in second.getvalue() and password not in second.getvalue()
    assert User.objects.filter(is_superuser=True).count() == 1
    assert client.login(username="demo@nexgent.local", password=password)
