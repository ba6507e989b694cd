"""Guards of the package's structure (DESIGN.md §2, issue 7): no import cycle in ``trax``;
``trax`` never imports ``dashboard``; ``trax.conf`` imports nothing of the engine; nothing
reaches into the store's modules past ``trax.store``; the engine's failure kinds are named only
by ``FailureKind``. Each reads the source, so it fails on the line that breaks the rule."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from trax.models import FailureKind

ROOT = Path(__file__).resolve().parents[2]
TRAX = ROOT / "trax"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in TRAX.rglob("*.py") if "migrations" not in path.parts}


def type_checking_nodes(tree: ast.AST) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            inside.update(id(child) for child in ast.walk(node))
    return inside


def imported(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """(module, line) of every import in a module, at module level or inside functions, but
    not under ``if TYPE_CHECKING:``; ``from a import b`` yields ``a`` and, if it is a module,
    ``a.b``."""
    tree = ast.parse(path.read_text())
    skipped = type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            yield base, node.lineno
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    yield f"{base}.{alias.name}", node.lineno


def graph() -> dict[str, set[str]]:
    """Module -> the trax modules importing it runs. Importing ``a.b.c`` runs ``a`` and ``a.b``
    too, except the packages the importer itself lives in (already being initialised)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = edges.setdefault(name, set())
        for module, _ in imported(path, name):
            parts = module.split(".")
            for end in range(1, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if (
                    candidate in MODULES
                    and candidate != name
                    and not name.startswith(candidate + ".")
                ):
                    targets.add(candidate)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
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
        for target in sorted(edges.get(node, ())):
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_scan_sees_the_package() -> None:
    edges = graph()

    assert len(MODULES) > 100
    assert "trax.store" in edges["trax.workers.pool"]  # the scan sees imports


def test_trax_has_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def violations(rule: str, bad: list[str]) -> str:
    return f"{rule}:\n" + "\n".join(bad)


def test_trax_never_imports_the_dashboard() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for name, path in MODULES.items()
        for module, line in imported(path, name)
        if module == "dashboard" or module.startswith("dashboard.")
    ]

    assert not bad, violations("dashboard imports trax, never the reverse", bad)


def test_conf_imports_nothing_of_the_engine() -> None:
    bad = [
        f"trax/conf.py:{line} imports {module}"
        for module, line in imported(MODULES["trax.conf"], "trax.conf")
        if module.startswith("trax") and module not in {"trax", "trax.models"}
    ]

    assert not bad, violations("settings are read by the engine, not the reverse", bad)


def test_nothing_reaches_past_trax_store_into_its_modules() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for name, path in MODULES.items()
        if not name.startswith("trax.store")
        for module, line in imported(path, name)
        if module.startswith("trax.store.")
    ]

    assert not bad, violations("import the store's names from trax.store", bad)


def test_the_engine_s_failure_kinds_are_named_only_by_failure_kind() -> None:
    kinds = {kind.value for kind in FailureKind}
    bad = []
    for name, path in MODULES.items():
        if name == "trax.models.choices":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named = [k for k in kinds if node.value == k or f"'{k}'" in node.value]
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {k!r}" for k in named]

    assert not bad, violations("use FailureKind, not the string", bad)


QUEUE_MODELS = {
    "WorkQueue",
    "BackgroundJob",
    "Metadata",
    "Manifest",
    "ManifestGroup",
    "DeadLetter",
    "Leader",
    "Worker",
    "Audit",
    "Log",
    "RunRollup",
    "RollupWatermark",
}
WRITES = {"save", "delete", "update", "bulk_create", "bulk_update", "create"}
WRITES_ANYWHERE = {"get_or_create", "update_or_create"}
SQL_WRITES = ("INSERT INTO TRAX_", "UPDATE TRAX_", "DELETE FROM TRAX_")


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def queue_writes(path: Path) -> Iterator[str]:
    """ORM writes and raw SQL writes on the queue tables in one module. An ORM write is a
    write method called on a receiver that names a trax model or a manager (``.objects``), or
    ``save()`` / ``delete()`` on any object (model instances)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, receiver = node.func.attr, ast.unparse(node.func.value)
            names_model = "objects" in receiver or any(m in receiver for m in QUEUE_MODELS)
            if (
                method in WRITES_ANYWHERE
                or (method in WRITES and names_model)
                or (method in {"save", "delete"} and not node.args and "super()" not in receiver)
            ):
                yield f"{shown(path)}:{node.lineno} {receiver}.{method}(...)"
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and any(write in node.value.upper() for write in SQL_WRITES)
        ):
            yield f"{shown(path)}:{node.lineno} SQL {node.value[:50]!r}"


def test_only_the_store_writes_queue_state() -> None:
    owners = ("trax/store/", "trax/events/", "trax/migrations/")
    scanned = [
        path
        for base in (TRAX, ROOT / "dashboard")
        for path in base.rglob("*.py")
        if not str(path.relative_to(ROOT)).startswith(owners)
    ]
    bad = [write for path in scanned for write in queue_writes(path)]

    assert len(scanned) > 50
    assert not bad, violations("queue and run state is written by trax.store only", bad)


def test_the_write_scan_sees_writes(tmp_path: Path) -> None:
    module = tmp_path / "writer.py"
    module.write_text(
        "def f(entry, cursor):\n"
        "    WorkQueue.objects.filter(id=1).update(status='x')\n"
        "    entry.save()\n"
        "    cursor.execute('DELETE FROM trax_worker WHERE id = 1')\n"
        "    problems.update({'a': 1})\n"
    )

    found = list(queue_writes(module))

    assert len(found) == 3, found


def test_new_work_entries_jobs_and_runs_are_built_by_the_store_only() -> None:
    built_by_the_store = {"WorkQueue", "BackgroundJob", "Metadata"}
    bad = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.func.id}(...)"
        for name, path in MODULES.items()
        if not name.startswith(("trax.store", "trax.models"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in built_by_the_store
    ]

    assert not bad, violations("describe new work with trax.store.NewWorkEntry", bad)
