"""The state machines are data (trax/store/transitions.py), and every guarded UPDATE in the code
and every row of docs/workers.md's table makes one of their moves."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from trax.models import TrainState, WorkQueueStatus
from trax.store.transitions import FINISHED_STATES, RUN_TRANSITIONS, WORK_ENTRY_TRANSITIONS

ROOT = Path(__file__).resolve().parents[3]
TRAX = ROOT / "trax"
DYNAMIC = "<outcome>"  # a finish: the outcome decides the state

COLUMN = {"trax_metadata": "train_state", "trax_work_queue": "status"}
ALLOWED = {"trax_metadata": RUN_TRANSITIONS, "trax_work_queue": WORK_ENTRY_TRANSITIONS}
ENUM = {"TrainState": TrainState, "WorkQueueStatus": WorkQueueStatus}


@dataclass(frozen=True)
class Move:
    where: str
    table: str
    sources: tuple[str, ...]
    target: str


# ── the SQL written as text ───────────────────────────────────────────────────────────────────


def sql_texts() -> Iterator[tuple[str, str]]:
    """(where, text) of every SQL statement in the store's .sql files and of every string
    constant in trax's Python modules (an f-string's holes become ``{}``)."""
    for path in sorted((TRAX / "store" / "sql").glob("*.sql")):
        for block in path.read_text().split("-- name: ")[1:]:
            yield f"{path.relative_to(ROOT)}:{block.split()[0]}", block
    for path in python_modules():
        tree = ast.parse(path.read_text())
        inside_fstrings = {
            id(part)
            for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr)
            for part in node.values
        }
        for node in ast.walk(tree):
            text = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = None if id(node) in inside_fstrings else node.value
            elif isinstance(node, ast.JoinedStr):
                text = "".join(
                    part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
                )
            if text and "UPDATE trax_" in text:
                yield f"{path.relative_to(ROOT)}:{node.lineno}", text


def python_modules() -> list[Path]:
    return [path for path in sorted(TRAX.rglob("*.py")) if "migrations" not in path.parts]


def sql_moves() -> Iterator[Move]:
    for where, text in sql_texts():
        for table, column in COLUMN.items():
            pieces = re.split(r"(?=UPDATE )", text)
            for index, statement in enumerate(pieces):
                if not statement.startswith(f"UPDATE {table}"):
                    continue
                statement = statement.split("RETURNING")[0]
                sets = re.search(rf"SET (?:\w+\.)?{column} = ('(\w+)'|done\.state|%s)", statement)
                if sets is None:
                    continue  # the statement leaves the state alone
                target = sets.group(2) or DYNAMIC
                guard = rf"(?:\w+\.)?{column} = '(\w+)'"
                sources = re.findall(guard, statement.replace(sets.group(0), ""))
                if not sources:  # the guard may sit in a CTE before the UPDATE
                    sources = re.findall(guard, "".join(pieces[:index]))
                yield Move(where, table, tuple(sources), target)


# ── the ORM's .filter(...).update(...) ───────────────────────────────────────────────────────


def value_of(node: ast.expr) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in ENUM
    ):
        return str(getattr(ENUM[node.value.id], node.attr).value)
    return None


def orm_moves() -> Iterator[Move]:
    for path in python_modules():
        for function in ast.walk(ast.parse(path.read_text())):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from function_moves(function, f"{path.relative_to(ROOT)}")


def function_moves(function: ast.AST, module: str) -> Iterator[Move]:
    # A queryset kept in a name (rows = ....filter(...); rows.update(...)): follow it.
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            assigned.setdefault(node.targets[0].id, []).append(node.value)
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "update":
            continue
        for table, column in COLUMN.items():
            written = [k for k in node.keywords if k.arg == column]
            if not written or not writes_state(written[0].value, column):
                continue
            sources = filter_sources(node.func.value, column, assigned)
            target = value_of(written[0].value) or DYNAMIC
            yield Move(f"{module}:{node.lineno}", table, tuple(sources), target)


def writes_state(value: ast.expr, column: str) -> bool:
    """Whether an ``update(<column>=value)`` writes a run's or an entry's state: a member of
    their enum, or (runs only) an outcome's state; another enum (dead letters') is not ours."""
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
        if value.value.id in ENUM:
            return (value.value.id == "TrainState") == (column == "train_state")
        return value.value.id not in {"DeadLetterStatus"} and column == "train_state"
    return column == "train_state"


def filter_sources(
    receiver: ast.expr,
    column: str,
    assigned: dict[str, list[ast.expr]],
    seen: frozenset[str] = frozenset(),
) -> list[str]:
    """The states a queryset's ``.filter(...)`` calls guard on (through names it was kept in)."""
    sources: list[str] = []
    while True:
        if isinstance(receiver, ast.Name) and receiver.id in assigned and receiver.id not in seen:
            for value in assigned[receiver.id]:
                sources += filter_sources(value, column, assigned, seen | {receiver.id})
            return sources
        if not (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute)):
            return sources
        if receiver.func.attr == "filter":
            for keyword in receiver.keywords:
                if keyword.arg == column and (value := value_of(keyword.value)):
                    sources.append(value)
                if keyword.arg == f"{column}__in" and isinstance(
                    keyword.value, ast.Tuple | ast.List
                ):
                    sources += [v for e in keyword.value.elts if (v := value_of(e))]
        receiver = receiver.func.value


def all_moves() -> list[Move]:
    return [*sql_moves(), *orm_moves()]


def allowed(move: Move) -> list[str]:
    """What is wrong with ``move`` (nothing: an allowed, guarded move)."""
    if not move.sources:
        return [f"{move.where}: an UPDATE of {COLUMN[move.table]} with no state guard"]
    rules = ALLOWED[move.table]
    targets = FINISHED_STATES if move.target == DYNAMIC else (move.target,)
    return [
        f"{move.where}: {move.table} {source} -> {target} is not in trax/store/transitions.py"
        for source in move.sources
        for target in targets
        if (source, target) not in rules
    ]


def test_the_scan_finds_the_store_s_state_changes() -> None:
    moves = all_moves()

    # The claim, the completion, the dispatch, the reaper, cancels and the stale steps at least.
    assert len([m for m in moves if m.table == "trax_metadata"]) >= 8, moves
    assert len([m for m in moves if m.table == "trax_work_queue"]) >= 2, moves


def test_every_guarded_update_makes_an_allowed_move() -> None:
    problems = [problem for move in all_moves() for problem in allowed(move)]

    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "move",
    [
        Move("made-up", "trax_metadata", ("completed",), "in_progress"),
        Move("made-up", "trax_metadata", (), "failed"),
        Move("made-up", "trax_work_queue", ("dispatched",), "queued"),
    ],
)
def test_a_move_outside_the_machines_is_reported(move: Move) -> None:
    assert allowed(move)


def test_the_table_in_the_workers_doc_is_the_data() -> None:
    doc = (ROOT / "docs" / "workers.md").read_text()
    rows = re.findall(r"^\| (run|work entry) \| `(\w+)` \| `(\w+)` \| (.+?) \|$", doc, re.M)
    documented = {
        ("trax_metadata" if table == "run" else "trax_work_queue", source, target)
        for table, source, target, _ in rows
    }
    data = {("trax_metadata", s, t) for s, t in RUN_TRANSITIONS} | {
        ("trax_work_queue", s, t) for s, t in WORK_ENTRY_TRANSITIONS
    }

    assert documented == data
