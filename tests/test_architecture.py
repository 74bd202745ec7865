"""The shape of the code, checked on its source: imports flow one way, no module imports
another that imports it back, and no product module leans on a library's private names.

Layers, lowest first (docs/architecture.md of the project, design/architecture.md of the
spec): a module imports from its own layer or below, never above. Within an app, the edges
(api, views, admin, tasks, consumers, urls, commands) may import services, services may import
selectors and models, and nothing imports an edge but an edge.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("nexgent", "trading.rules", "prices", "agents", "wallets", "trading", "signals_app")
# A separate world: the product reaches it by URL, or behind `serve --localnet` (below).
LOCALNET = "localnet"
PACKAGES = (*LAYERS, LOCALNET)
# The root wiring may name every app: settings, the root URLs, the ASGI application.
WIRING = {"nexgent.urls", "nexgent.asgi", "nexgent.settings", "nexgent.celery"}
# The one product module that starts the local market, only when asked to (--localnet).
LOCALNET_STARTERS = {"signals_app.management.commands.serve"}
EDGES = ("api", "views", "admin", "tasks", "consumers", "urls", "routing", "management")
LOWER_KINDS = ("models", "selectors")

LIBRARIES = (
    "django",
    "rest_framework",
    "psycopg",
    "requests",
    "urllib3",
    "channels",
    "channels_redis",
    "django_redis",
    "redis",
    "kombu",
    "celery",
    "limits",
    "asgiref",
)
# Underscored names that are public by their owner's documentation: Django's model _meta API,
# and the namedtuple API (named with an underscore so as not to clash with fields).
PUBLIC_UNDERSCORED = {"_meta", "_fields", "_replace", "_asdict", "_make"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _product_modules() -> dict[str, ast.Module]:
    modules = {}
    for package in {name.split(".")[0] for name in PACKAGES}:
        for path in (REPO_ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[_module_name(path)] = ast.parse(path.read_text(), filename=str(path))
    return modules


MODULES = _product_modules()


def _imports(tree: ast.Module) -> list[tuple[str, list[str], int]]:
    """(module, names imported from it, line) for every import, function-level ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def _project_target(module: str, names: list[str]) -> list[str]:
    """The project modules an import reaches: `from a import b` may import module a.b."""
    targets = []
    for name in names:
        if f"{module}.{name}" in MODULES:
            targets.append(f"{module}.{name}")
    if (module in MODULES and len(targets) < len(names)) or not names:
        candidate = module
        while candidate and candidate not in MODULES:
            candidate = candidate.rpartition(".")[0]
        if candidate:
            targets.append(candidate)
    return targets


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, tree in MODULES.items():
        for module, names, _ in _imports(tree):
            if module.split(".")[0] in {p.split(".")[0] for p in PACKAGES}:
                graph[name].update(t for t in _project_target(module, names) if t != name)
    return graph


GRAPH = _graph()


def _layer(module: str) -> int | None:
    """The index in LAYERS of the longest layer prefix of `module`; None for localnet."""
    best = None
    for index, layer in enumerate(LAYERS):
        inside = module == layer or module.startswith(layer + ".")
        if inside and (best is None or len(layer) > len(LAYERS[best])):
            best = index
    return best


def _app(module: str) -> str:
    return module.split(".")[0]


def _kind(module: str) -> str:
    """The role of a module in its app, from its name."""
    parts = module.split(".")
    if "management" in parts:
        return "management"
    last = parts[-1]
    for kind in (*EDGES, *LOWER_KINDS, "services"):
        if last == kind or last.endswith("_" + kind):
            return kind
    return "other"


def test_the_graph_is_read():
    # Not vacuous: the product's modules and their imports were found.
    assert "trading.services" in MODULES and "trading.models" in GRAPH["trading.services"]
    assert "signals_app.services" in GRAPH["signals_app.tasks"]


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for importer, targets in GRAPH.items():
        if importer in WIRING:
            continue
        for target in targets:
            own, theirs = _layer(importer), _layer(target)
            if _app(target) == LOCALNET:
                if _app(importer) != LOCALNET and importer not in LOCALNET_STARTERS:
                    upward.append(f"{importer} -> {target} (localnet is reached by URL)")
            elif own is None:
                if theirs != 0:  # localnet may use the core's helpers only
                    upward.append(f"{importer} -> {target} (localnet imports the product)")
            elif theirs > own:
                upward.append(f"{importer} -> {target}")
    assert upward == []


def test_within_an_app_nothing_below_the_edges_imports_them():
    wrong = []
    for importer, targets in GRAPH.items():
        for target in targets:
            if _app(importer) != _app(target) or importer in WIRING:
                continue
            if _kind(target) in EDGES and _kind(importer) not in EDGES:
                wrong.append(f"{importer} -> {target} (an edge)")
            if _kind(target) == "services" and _kind(importer) in LOWER_KINDS:
                wrong.append(f"{importer} -> {target} (services, from below)")
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {t for targets in graph.values() for t in targets}):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _private_uses(tree: ast.Module) -> list[str]:
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
            if not name.startswith("_") or name.startswith("__") or name in PUBLIC_UNDERSCORED:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            uses.append(f"line {node.lineno}: .{name} of {ast.unparse(node.value)}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            private = [a.name for a in node.names if a.name.startswith("_")]
            private += [part for part in node.module.split(".") if part.startswith("_")]
            uses += [f"line {node.lineno}: {name} from {node.module}" for name in private]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(part.startswith("_") for part in alias.name.split(".")):
                    uses.append(f"line {node.lineno}: import {alias.name}")
    return uses


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_of_another_module_is_used(module):
    """Neither a library's private names (Django, psycopg, requests, urllib3, channels,
    channels_redis, django_redis, kombu, celery...) nor another project module's: only what
    their owners publish, and a module's own private names through self or cls."""
    assert _private_uses(MODULES[module]) == []


def test_the_private_name_check_catches_one():
    tree = ast.parse(
        "from django.db.models.query import _iterable\nx = queryset._iterable_class\n"
        "y = instance._meta\nself._own = 1\n"
    )
    assert _private_uses(tree) == [
        "line 1: _iterable from django.db.models.query",
        "line 2: ._iterable_class of queryset",
    ]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_internal_module_of_a_library_is_imported(module):
    internal = [
        f"line {line}: {name}"
        for name, _, line in _imports(MODULES[module])
        if name.split(".")[0] in LIBRARIES and _is_internal(name)
    ]
    assert internal == []


# Modules of the libraries that their documentation does not offer to users.
_INTERNAL = (
    "django.db.models.sql",
    "django.db.models.query_utils",
    "django.db.backends",
    "psycopg.types.string",
    "requests.cookies",
    "requests.hooks",
    "requests.structures",
    "channels_redis.core",
    "kombu.transport",
    "celery.app.task",
)


def _is_internal(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in _INTERNAL)
