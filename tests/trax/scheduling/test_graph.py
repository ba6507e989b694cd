"""Cycle detection between manifests and between manifest groups."""

from __future__ import annotations

import sys
from itertools import pairwise

import pytest

from trax.scheduling.errors import DependencyCycleError, ScheduleError
from trax.scheduling.graph import (
    check_group_dependencies,
    check_manifest_dependencies,
    find_cycle,
)

# ── find_cycle ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "edges",
    [
        {},
        {"a": []},
        {"a": ["b"], "b": ["c"]},
        {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []},  # a diamond is not a cycle
        {"a": ["outside"]},  # a node that is not a key is a leaf
        {"a": ["b", "b"], "b": []},
    ],
)
def test_find_cycle_finds_none_in_a_dag(edges: dict[str, list[str]]) -> None:
    assert find_cycle(edges) is None


def test_find_cycle_returns_the_nodes_along_the_cycle_closed_by_the_first() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]


def test_find_cycle_starts_the_cycle_at_its_smallest_node() -> None:
    assert find_cycle({"z": ["b"], "b": ["c"], "c": ["z"]}) == ["b", "c", "z", "b"]
    assert find_cycle({"a": ["x"], "x": ["y"], "y": ["x"]}) == ["x", "y", "x"]


def test_find_cycle_counts_a_self_loop() -> None:
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_find_cycle_is_deterministic_whatever_the_order_of_the_mapping() -> None:
    edges = {"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c"], "e": ["c", "a"]}
    reordered = {key: list(reversed(edges[key])) for key in reversed(list(edges))}
    assert find_cycle(edges) == find_cycle(reordered) == ["a", "b", "a"]


def test_find_cycle_finds_a_cycle_behind_a_finished_branch() -> None:
    edges = {"a": ["b", "c"], "b": ["d"], "c": ["d", "e"], "d": [], "e": ["c"]}
    assert find_cycle(edges) == ["c", "e", "c"]


def test_find_cycle_accepts_any_iterables_of_targets() -> None:
    assert find_cycle({"a": iter(["b"]), "b": ("a",)}) == ["a", "b", "a"]


def test_find_cycle_walks_a_chain_of_ten_thousand_nodes_without_recursion() -> None:
    count = max(10_000, sys.getrecursionlimit() * 2)
    names = [f"n{index:06d}" for index in range(count)]
    chain = {name: [following] for name, following in pairwise(names)}
    assert find_cycle(chain) is None
    chain[names[-1]] = [names[0]]
    assert find_cycle(chain) == [*names, names[0]]


# ── manifests ────────────────────────────────────────────────────────────────────────────────


def test_manifest_dependencies_without_a_cycle_pass() -> None:
    check_manifest_dependencies(
        {"extract": None, "transform": "extract", "load": "transform", "validate": "extract"}
    )


def test_a_parent_outside_the_mapping_is_a_leaf() -> None:
    check_manifest_dependencies({"child": "already-in-the-database"})


def test_a_manifest_cycle_is_refused_naming_every_manifest_in_order() -> None:
    with pytest.raises(DependencyCycleError) as info:
        check_manifest_dependencies({"a": "b", "b": "c", "c": "a", "d": "a"})
    assert str(info.value) == "dependency cycle between manifests: a -> b -> c -> a"
    assert info.value.members == ["a", "b", "c"]
    assert info.value.field == "depends_on"


def test_a_manifest_depending_on_itself_is_a_cycle() -> None:
    with pytest.raises(DependencyCycleError, match=r"^dependency cycle between manifests: a -> a$"):
        check_manifest_dependencies({"a": "a"})


def test_a_dependency_cycle_error_is_a_schedule_error() -> None:
    with pytest.raises(ScheduleError):
        check_manifest_dependencies({"a": "b", "b": "a"})


# ── groups ───────────────────────────────────────────────────────────────────────────────────


def test_dependencies_within_one_group_are_allowed() -> None:
    check_group_dependencies(
        {"extract": None, "transform": "extract", "load": "transform"},
        {"extract": "etl", "transform": "etl", "load": "etl"},
    )


def test_group_dependencies_one_way_are_allowed() -> None:
    check_group_dependencies(
        {"report": "load", "email": "report", "load": None},
        {"report": "reports", "email": "mail", "load": "etl"},
    )


def test_a_group_cycle_is_refused_even_when_the_manifests_form_a_dag() -> None:
    depends_on = {"e1": None, "r1": "e1", "e2": "r1"}
    group_of = {"e1": "etl", "r1": "reports", "e2": "etl"}
    check_manifest_dependencies(depends_on)

    with pytest.raises(DependencyCycleError) as info:
        check_group_dependencies(depends_on, group_of)

    assert str(info.value) == (
        "dependency cycle between groups: etl -> reports -> etl "
        "(etl -> reports because e2 depends on r1; reports -> etl because r1 depends on e1)"
    )
    assert info.value.members == ["etl", "reports"]
    assert info.value.field == "depends_on"


def test_a_group_cycle_through_three_groups_names_them_all() -> None:
    depends_on = {"a1": "b1", "b2": "c1", "c2": "a2", "b1": None, "c1": None, "a2": None}
    group_of = {"a1": "a", "a2": "a", "b1": "b", "b2": "b", "c1": "c", "c2": "c"}
    with pytest.raises(
        DependencyCycleError, match=r"^dependency cycle between groups: a -> b -> c -> a \("
    ):
        check_group_dependencies(depends_on, group_of)


def test_the_group_error_names_the_smallest_manifest_edge_behind_each_group_edge() -> None:
    depends_on = {"x2": "y1", "x1": "y2", "y1": "x1"}
    group_of = {"x1": "x", "x2": "x", "y1": "y", "y2": "y"}
    with pytest.raises(DependencyCycleError, match="x -> y because x1 depends on y2;"):
        check_group_dependencies(depends_on, group_of)


def test_manifests_without_a_known_group_add_no_group_edge() -> None:
    check_group_dependencies(
        {"a": "b", "b": "outside", "c": "a"},
        {"a": "one", "b": "two"},  # "outside" and "c" have no known group
    )
