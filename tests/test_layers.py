"""The arrows between the application's parts point one way (issue 21), read from the code with `ast`.

Every `import` counts, the ones inside functions too (a function-level import is still an arrow). From
the top down:

    app, worker, cli            the programs: build the application, start the worker, run a command
                                (and gunicorn.conf.py, the web server's settings)
    admin_views, portal         the screens (neither imports the other)
    web                         what every screen shares: sign-in pages, security, filters, limits
    tasks                       the background queue and its tasks (huey): they call services
    sync                        the board's mirror: calls services, talks to Google Sheets
    services                    the rules: plain functions over the models, no Flask
    models                      the tables and what guards them
    config                      settings read from the environment

A part imports its own layer and the layers below it, never one above, and no group of modules imports
itself round in a circle. A package's `__init__` that gathers its modules' names is not counted as a step
back up from those modules (``from models import User`` inside `models/visit.py` names a sibling).
"""
import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [("app", "worker", "cli", "gunicorn"), ("admin_views", "portal"), ("web",), ("tasks",), ("sync",), ("services",),
          ("models",), ("config",)]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
# Screens side by side, and what must never be imported beneath a layer (the rules have no Flask).
SIBLINGS_APART = {("admin_views", "portal"), ("portal", "admin_views")}
NO_FLASK = ("services", "models", "config")
OUTSIDE = {"tests", "bench", "migrations", "scripts", "docs", ".venv", "instance", "static", "templates",
           "translations", "test-artifacts"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in OUTSIDE or parts[0].startswith("."):
            continue
        name = ".".join(parts)[:-3]
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _own(name: str) -> str | None:
    """Return the module of ours that an imported name lives in (the longest known prefix), or None."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in MODULES:
            return ".".join(parts)
        parts.pop()
    return None


def _imports(module: str) -> dict[str, set[int]]:
    """Return {imported name: {line numbers}} of every import in the module, relative ones resolved."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _read_imports(path.read_text(encoding="utf-8"), package)


def _read_imports(source: str, package: str) -> dict[str, set[int]]:
    names: dict[str, set[int]] = defaultdict(set)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.name].add(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names[base].add(node.lineno)
            for alias in node.names:
                names[f"{base}.{alias.name}"].add(node.lineno)
    return names


def _graph() -> dict[str, dict[str, set[str]]]:
    """Return {module: {module of ours it imports: {lines}}}, without a module's arrows to its own packages."""
    graph: dict[str, dict[str, set[str]]] = {}
    for module in MODULES:
        arrows: dict[str, set[str]] = defaultdict(set)
        for name, lines in _imports(module).items():
            target = _own(name)
            if target is None or target == module or module.startswith(target + "."):
                continue
            arrows[target] |= lines
        graph[module] = arrows
    return graph


GRAPH = _graph()


def _part(module: str) -> str:
    return module.split(".")[0]


def test_every_part_is_in_a_layer():
    assert {_part(m) for m in MODULES} <= set(RANK), {_part(m) for m in MODULES} - set(RANK)


def test_no_arrow_points_up():
    """A part imports only its own layer and the ones below (screens never each other)."""
    up = []
    for module, arrows in GRAPH.items():
        for target, lines in arrows.items():
            source, dest = _part(module), _part(target)
            if RANK[dest] < RANK[source] or (source, dest) in SIBLINGS_APART:
                up.append(f"{module} → {target}")
    assert not up, "arrows back up:\n" + "\n".join(sorted(up))


def test_the_rules_and_the_tables_know_no_flask():
    found = []
    for module in MODULES:
        if _part(module) in NO_FLASK:
            for name, lines in _imports(module).items():
                if name.split(".")[0] in ("flask", "flask_admin", "flask_babel", "flask_login", "flask_wtf", "jinja2"):
                    found.append(f"{module} imports {name}")
    assert not found, "\n".join(sorted(set(found)))


def _cycles(graph) -> list[list[str]]:
    """Return the groups of modules that import each other round in a circle (Tarjan's strongly connected parts)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_module_imports_itself_round_a_circle():
    groups = _cycles(GRAPH)
    assert not groups, "import cycles:\n" + "\n".join(" ↔ ".join(g) for g in groups)


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_cycle_finder_finds_a_circle_and_only_one(graph, expected):
    assert _cycles(graph) == expected


def test_an_arrow_inside_a_function_counts():
    """The check reads function-level and relative imports too: the loop the review found was held by them."""
    source = "import datetime\n\ndef later():\n    from . import notifications\n    from ..models import User\n"
    names = _read_imports(source, "services")
    assert names["services.notifications"] == {4}
    assert names["models.User"] == {5}
    assert _own("services.notifications.queue") == "services.notifications"
