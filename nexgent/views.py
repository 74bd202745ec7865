"""Helpers for the dashboard's pages: a service's refusal shown on the form fields it names, so
a page gives the same per-field messages as the API, and the query string of a page's links."""

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from nexgent.api import DomainError


def add_service_error(form: forms.Form, error: DomainError | ValidationError) -> None:
    """Put each message of `error` on the form field it names, or on the form as a whole when
    it names no field of this form."""
    for field, message in _messages(error):
        form.add_error(field if field in form.fields else None, message)


def _messages(error: DomainError | ValidationError) -> list[tuple[str | None, str]]:
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            return [
                (field, message)
                for field, messages in error.message_dict.items()
                for message in messages
            ]
        return [(None, message) for message in error.messages]
    named = [(detail.get("field") or None, detail["message"]) for detail in error.details]
    return named or [(None, error.message)]


def query_with(request: HttpRequest, **changes) -> str:
    """The request's query string with `changes` applied: a falsy value drops the parameter
    (a pager's first page has no offset)."""
    query = request.GET.copy()
    for name, value in changes.items():
        query.pop(name, None)
        if value:
            query[name] = str(value)
    return query.urlencode()
