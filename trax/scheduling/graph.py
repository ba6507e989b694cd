"""Dependency checks: manifests, and the manifest groups they belong to, must form a DAG.

Edges point from a node to what it depends on (a dependent manifest -> its parent). Pure Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import pairwise

from trax.scheduling.errors import DependencyCycleError

__all__ = ["check_group_dependencies", "check_manifest_dependencies", "find_cycle"]

_FIELD = "depends_on"


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle as the nodes along it, first node repeated at the end (["a", "b", "a"]), or None.

    Deterministic: nodes and their edges are visited in sorted order, and the cycle is rotated to
    start at its smallest node. Iterative, so deep chains do not hit the recursion limit.
    """
    graph = {node: sorted(set(targets)) for node, targets in edges.items()}
    finished: set[str] = set()
    for root in sorted(graph):
        if root in finished:
            continue
        path = [root]
        position = {root: 0}  # node -> index in path, for the nodes on the current path
        pending: list[Iterator[str]] = [iter(graph[root])]
        while pending:
            target = next(pending[-1], None)
            if target is None:
                pending.pop()
                node = path.pop()
                del position[node]
                finished.add(node)
            elif target in position:
                return _rotated(path[position[target] :])
            elif target not in finished:
                position[target] = len(path)
                path.append(target)
                pending.append(iter(graph.get(target, ())))
    return None


def check_manifest_dependencies(depends_on: Mapping[str, str | None]) -> None:
    """Refuse a dependency cycle between manifests (external id -> parent external id).

    A parent that is not a key (a manifest already in the database, say) is a leaf.
    """
    cycle = find_cycle({child: [parent] for child, parent in depends_on.items() if parent})
    if cycle is not None:
        raise DependencyCycleError(
            f"dependency cycle between manifests: {' -> '.join(cycle)}",
            members=cycle[:-1],
            field=_FIELD,
        )


def check_group_dependencies(
    depends_on: Mapping[str, str | None], group_of: Mapping[str, str | None]
) -> None:
    """Refuse a dependency cycle between manifest groups.

    A manifest in group G1 depending on one in G2 makes G1 depend on G2; dependencies within a
    group are allowed (as in Trax). Manifests without a known group add no edge.
    """
    # group edge -> the (smallest) manifest edge that creates it, to name in the error
    witnesses: dict[tuple[str, str], tuple[str, str]] = {}
    for child, parent in sorted((c, p) for c, p in depends_on.items() if p):
        child_group, parent_group = group_of.get(child), group_of.get(parent)
        if child_group and parent_group and child_group != parent_group:
            witnesses.setdefault((child_group, parent_group), (child, parent))
    edges: dict[str, list[str]] = {}
    for child_group, parent_group in witnesses:
        edges.setdefault(child_group, []).append(parent_group)
    cycle = find_cycle(edges)
    if cycle is None:
        return
    reasons = "; ".join(
        f"{a} -> {b} because {witnesses[a, b][0]} depends on {witnesses[a, b][1]}"
        for a, b in pairwise(cycle)
    )
    raise DependencyCycleError(
        f"dependency cycle between groups: {' -> '.join(cycle)} ({reasons})",
        members=cycle[:-1],
        field=_FIELD,
    )


def _rotated(loop: list[str]) -> list[str]:
    start = loop.index(min(loop))
    ordered = loop[start:] + loop[:start]
    return [*ordered, ordered[0]]
