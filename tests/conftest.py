"""Fixtures shared by the whole suite. Rows are made through the project's services where a
service exists, so tests exercise the same write paths as the engine."""

import pytest


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(email="operator@example.com", password="pw-12345678")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(email="other@example.com", password="pw-12345678")
