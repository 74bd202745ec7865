"""Querysets compiled once and run again with other values.

Django builds and compiles a queryset's SQL every time it runs it. For the small reads on a
signal's path (an operator's agents, their wallets, the kill switch) that costs three to four
times what running the query costs (docs/benchmarks.md). A `Compiled` query is an ordinary
queryset, written once as a function of its parameters, for example:

    AGENTS = Compiled(lambda owner_id: Agent.objects.filter(owner_id=owner_id).order_by("pk"))
    AGENTS.models(owner_id=7)

The first call in a thread builds the queryset with placeholder values and compiles it. Later
calls run the same SQL with their own values. Rows are converted by Django's own converters
and turned into instances by the model's own `from_db`, with `select_related` followed, as
the queryset's own iteration would. Only int and str values, aware datetimes compared with
date-time fields, and lists of them, can be parameters. A list is compiled once per length,
and an empty list runs the plain queryset.
"""

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import QuerySet
from django.db.models.query import FlatValuesListIterable, get_related_populators
from django.db.models.sql.compiler import SQLCompiler

# Plans kept per query and thread: a list parameter makes one plan per length.
MAX_PLANS = 64
# Integer placeholders count down from the top of the narrowest integer column's range
# (Django finds nothing for a value out of a column's range, without asking the database).
# A constant of the query equal to one would be found twice: the compile then fails, loudly.
_INT_TOP = 32767
_DATETIME_BASE = datetime(1001, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]  # parameter name -> positions in params
    compiler: SQLCompiler
    flat: bool  # values_list(..., flat=True): each row's one value


class Compiled:
    """A queryset, as `build(**values)` returns it, compiled once per thread and shape."""

    def __init__(self, build: Callable[..., QuerySet]):
        self.build = build
        # Per thread: a compiler holds the connection it compiled for, and Django's
        # connections belong to one thread each.
        self._plans = threading.local()

    def rows(self, **values) -> list:
        """What iterating a values_list() queryset gives: tuples, or values when flat."""
        if _has_empty_list(values):
            return list(self.build(**values))
        plan = self._plan(values)
        rows = plan.compiler.results_iter([_fetch(plan, values)], tuple_expected=True)
        return [row[0] for row in rows] if plan.flat else list(rows)

    def models(self, **values) -> list:
        """The model instances the queryset gives (select_related ones included)."""
        if _has_empty_list(values):
            return list(self.build(**values))
        plan = self._plan(values)
        compiler = plan.compiler
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        names = [column[0].target.attname for column in select[start:end]]
        model = klass_info["model"]
        populators = get_related_populators(klass_info, select, connection.alias)
        instances = []
        for row in compiler.results_iter([_fetch(plan, values)]):
            instance = model.from_db(connection.alias, names, row[start:end])
            for populator in populators:
                populator.populate(row, instance)
            instances.append(instance)
        return instances

    def get(self, **values):
        """The one instance, or the model's DoesNotExist, as QuerySet.get()."""
        found = self.models(**values)
        if len(found) == 1:
            return found[0]
        model = self._plan(values).compiler.query.model
        if not found:
            raise model.DoesNotExist(f"{model._meta.object_name} matching {values} does not exist")
        raise model.MultipleObjectsReturned(
            f"{len(found)} {model._meta.object_name} match {values}"
        )

    def first(self, **values):
        """The first row (rows()) or None."""
        found = self.rows(**values)
        return found[0] if found else None

    def _plan(self, values: dict) -> _Plan:
        shape = (connection.alias, *sorted(_shape(name, value) for name, value in values.items()))
        plans = self._plans.__dict__
        plan = plans.get(shape)
        if plan is None:
            if len(plans) >= MAX_PLANS:
                del plans[next(iter(plans))]  # the oldest
            plan = plans[shape] = self._compile(values)
        return plan

    def _compile(self, values: dict) -> _Plan:
        numbers = itertools.count()
        placeholders = {name: _placeholder(value, numbers) for name, value in values.items()}
        queryset = self.build(**placeholders)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        where = _where(params)
        slots = {
            name: _positions(where, _as_database_values(value))
            for name, value in placeholders.items()
        }
        return _Plan(
            sql, tuple(params), slots, compiler, queryset._iterable_class is FlatValuesListIterable
        )


def _fetch(plan: _Plan, values: dict) -> list:
    params = list(plan.params)
    for name, positions in plan.slots.items():
        value = values[name]
        items = value if isinstance(value, list | tuple) else [value]
        for position, item in zip(positions, items, strict=True):
            params[position] = _database_value(item)
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        return cursor.fetchall()


def _has_empty_list(values: dict) -> bool:
    return any(isinstance(value, list | tuple) and not value for value in values.values())


def _shape(name: str, value) -> tuple:
    if isinstance(value, list | tuple):
        kinds = {_kind(item) for item in value}
        return (name, "list", len(value), *sorted(kinds))
    return (name, _kind(value))


def _kind(value) -> str:
    # bool is an int to Python, but not a value to substitute into any compiled query.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return "datetime"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(
            f"a compiled query takes int, str or aware datetime values, not {type(value).__name__}"
        )
    return type(value).__name__


def _placeholder(value, numbers: Iterator[int]):
    if isinstance(value, list | tuple):
        return [_placeholder(item, numbers) for item in value]
    number = next(numbers)
    if isinstance(value, datetime):
        # A moment no trade can have, told apart by its microseconds.
        return _DATETIME_BASE + timedelta(microseconds=number)
    if isinstance(value, str):
        return f"\x00compiled-placeholder-{number}"
    return _INT_TOP - number


def _database_value(value):
    """What Django's lookup would pass the database for this value: a datetime as the
    backend stores date-times (text on SQLite), others as they are."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _as_database_values(placeholder):
    if isinstance(placeholder, list):
        return [_database_value(item) for item in placeholder]
    return _database_value(placeholder)


def _where(params) -> dict:
    """Each placeholder-like parameter's positions."""
    where: dict = {}
    for index, param in enumerate(params):
        if isinstance(param, int | str | datetime) and not isinstance(param, bool):
            where.setdefault(param, []).append(index)
    return where


def _positions(where: dict, placeholder) -> tuple[int, ...]:
    items = placeholder if isinstance(placeholder, list) else [placeholder]
    positions = []
    for item in items:
        found = where.get(item, [])
        if len(found) != 1:
            raise ValueError(
                "a compiled query must use each parameter exactly once, as given "
                f"(found {len(found)} times)"
            )
        positions.append(found[0])
    return tuple(positions)
