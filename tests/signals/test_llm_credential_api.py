"""GET/PUT/DELETE llm-credential: the operator's model for their AI strategists, set by a
logged-in operator only, the key stored encrypted and never answered, bad input refused per
field with nothing written."""

from decimal import Decimal

import pytest

from agents.services import api_key_create
from signals_app.models import LlmCredential
from signals_app.strategist_services import llm_credential_set, llm_key_open

pytestmark = pytest.mark.django_db

URL = "/api/v1/llm-credential"
KEY = "sk-secret-credential-0123456789"
BODY = {
    "base_url": "https://api.example.com/v1/",
    "model": "gpt-test",
    "api_key": KEY,
    "response_format": "json_object",
    "input_usd_per_million_tokens": "0.15",
    "output_usd_per_million_tokens": "0.6",
}


@pytest.fixture
def operator(api_client, user):
    api_client.force_authenticate(user)
    return api_client


def test_put_stores_the_model_with_the_key_encrypted_and_never_answers_it(operator, user):
    answer = operator.put(URL, BODY, format="json")

    assert answer.status_code == 200, answer.json()
    assert KEY not in answer.content.decode()
    assert answer.json() == {
        "base_url": "https://api.example.com/v1",
        "model": "gpt-test",
        "response_format": "json_object",
        "input_usd_per_million_tokens": answer.json()["input_usd_per_million_tokens"],
        "output_usd_per_million_tokens": answer.json()["output_usd_per_million_tokens"],
        "api_key_set": True,
        "updated_at": answer.json()["updated_at"],
    }
    assert Decimal(answer.json()["input_usd_per_million_tokens"]) == Decimal("0.15")
    assert Decimal(answer.json()["output_usd_per_million_tokens"]) == Decimal("0.6")
    stored = LlmCredential.objects.get(owner=user)
    assert KEY.encode() not in bytes(stored.encrypted_key)
    assert llm_key_open(stored) == KEY

    read = operator.get(URL)
    assert read.status_code == 200
    assert KEY not in read.content.decode()
    assert read.json()["api_key_set"] is True and read.json()["model"] == "gpt-test"


def test_put_defaults_the_format_and_the_prices(operator, user):
    body = {"base_url": "http://ollama:11434/v1", "model": "qwen3", "api_key": "ollama"}

    assert operator.put(URL, body, format="json").status_code == 200

    stored = LlmCredential.objects.get(owner=user)
    assert stored.response_format == "json_schema"
    assert stored.input_usd_per_million_tokens == 0 == stored.output_usd_per_million_tokens


def test_put_replaces_the_model(operator, user):
    llm_credential_set(owner=user, base_url="https://old.example/v1", model="old", api_key="a")

    operator.put(URL, BODY, format="json")

    stored = LlmCredential.objects.get(owner=user)
    assert (stored.model, llm_key_open(stored)) == ("gpt-test", KEY)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"base_url": "ftp://example.com/v1"}, "base_url"),
        ({"base_url": "not a url"}, "base_url"),
        ({"base_url": "https://"}, "base_url"),
        ({"base_url": "http://host:99999/v1"}, "base_url"),
        ({"base_url": "https://example.com/" + "a" * 300}, "base_url"),
        ({"model": ""}, "model"),
        ({"model": "m" * 101}, "model"),
        ({"api_key": ""}, "api_key"),
        ({"api_key": "k" * 501}, "api_key"),
        ({"api_key": "sk-one\nX-Injected: 1"}, "api_key"),
        ({"response_format": "xml"}, "response_format"),
        ({"input_usd_per_million_tokens": "-1"}, "input_usd_per_million_tokens"),
        ({"output_usd_per_million_tokens": "lots"}, "output_usd_per_million_tokens"),
        ({"api_key_set": True}, "api_key_set"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_written(operator, user, change, field):
    answer = operator.put(URL, {**BODY, **change}, format="json")

    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "validation_error"
    assert field in [d["field"] for d in body["details"]]
    assert KEY not in answer.content.decode()
    assert not LlmCredential.objects.filter(owner=user).exists()


@pytest.mark.parametrize("missing", ["base_url", "model", "api_key"])
def test_each_required_field_is_named_when_missing(operator, missing):
    body = {name: value for name, value in BODY.items() if name != missing}

    answer = operator.put(URL, body, format="json")

    assert answer.status_code == 400
    assert [d["field"] for d in answer.json()["details"]] == [missing]


def test_delete_removes_the_model(operator, user):
    llm_credential_set(owner=user, base_url="https://x.example/v1", model="m", api_key="k")

    assert operator.delete(URL).status_code == 204
    assert not LlmCredential.objects.filter(owner=user).exists()
    assert operator.get(URL).status_code == 404
    assert operator.delete(URL).status_code == 404


def test_no_model_is_a_404(operator):
    answer = operator.get(URL)

    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


def test_each_operator_sees_only_their_own_model(operator, other_user):
    llm_credential_set(owner=other_user, base_url="https://x.example/v1", model="m", api_key="k")

    assert operator.get(URL).status_code == 404
    assert operator.delete(URL).status_code == 404
    assert LlmCredential.objects.filter(owner=other_user).exists()


def test_api_keys_are_refused_even_with_full_access(api_client, user):
    _, raw = api_key_create(owner=user, name="all", scopes=["full_access"])

    for method in ("get", "put", "delete"):
        answer = getattr(api_client, method)(URL, BODY, format="json", HTTP_X_API_KEY=raw)
        assert answer.status_code == 403, method
    assert not LlmCredential.objects.exists()


def test_anonymous_is_a_401(api_client):
    assert api_client.get(URL).status_code == 401
