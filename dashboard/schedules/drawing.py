"""The dependency graph drawn as SVG on the server: nodes in columns by depth, left to right
(a parent left of what it runs), coloured by their last outcome, each a link."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

NODE_WIDTH = 230
NODE_HEIGHT = 40
COLUMN_GAP = 70
ROW_GAP = 14
MARGIN = 10
#: Characters of a label, and of its note, that fit a node; longer ones are cut with "…"
#: (whole on hover).
LABEL_CHARS = 28
NOTE_CHARS = 38


@dataclass(frozen=True)
class Node:
    """A box: its key, words, second line, link, and outcome (a CSS class: ``completed``,
    ``failed``, ``cancelled``, ``in_progress``, ``pending`` or ``none``)."""

    key: str
    label: str
    note: str
    href: str
    outcome: str


@dataclass(frozen=True)
class Edge:
    """``child`` runs after ``parent``; ``dormant``: only when the parent activates it."""

    parent: str
    child: str
    dormant: bool = False


def depths(keys: Sequence[str], edges: Sequence[Edge]) -> dict[str, int]:
    """Each node's column: 0 for a node without a parent, else one more than its deepest
    parent. A cycle (refused when saved, so never expected) does not loop: its nodes stop
    deepening after as many rounds as there are nodes."""
    depth = dict.fromkeys(keys, 0)
    for _ in range(len(keys)):
        moved = False
        for edge in edges:
            if edge.parent in depth and edge.child in depth:
                wanted = depth[edge.parent] + 1
                if depth[edge.child] < wanted:
                    depth[edge.child] = wanted
                    moved = True
        if not moved:
            break
    return depth


def draw(nodes: Sequence[Node], edges: Sequence[Edge], *, title: str) -> SafeString:
    """The graph as an ``<svg>`` element, or "" without nodes. Every label, note and link is
    escaped here, which is what makes the markup safe to place in a page."""
    if not nodes:
        return mark_safe("")
    depth = depths([n.key for n in nodes], edges)
    columns: dict[int, list[Node]] = {}
    for node in sorted(nodes, key=lambda n: n.label):
        columns.setdefault(depth[node.key], []).append(node)
    place: dict[str, tuple[int, int]] = {}
    for column, members in columns.items():
        for row, node in enumerate(members):
            x = MARGIN + column * (NODE_WIDTH + COLUMN_GAP)
            place[node.key] = (x, MARGIN + row * (NODE_HEIGHT + ROW_GAP))
    width = MARGIN * 2 + (max(columns) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    tallest = max(len(members) for members in columns.values())
    height = MARGIN * 2 + tallest * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    parts = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" class="arrowhead"/>'
        "</marker></defs>",
    ]
    for edge in edges:
        if edge.parent in place and edge.child in place:
            parts.append(_edge(place[edge.parent], place[edge.child], edge.dormant))
    for node in nodes:
        parts.append(_node(node, *place[node.key]))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every value in it was escaped above


def _edge(start: tuple[int, int], end: tuple[int, int], dormant: bool) -> str:
    x1, y1 = start[0] + NODE_WIDTH, start[1] + NODE_HEIGHT // 2
    x2, y2 = end[0], end[1] + NODE_HEIGHT // 2
    bend = (x2 - x1) // 2 if x2 > x1 else 60
    kind = "edge dormant" if dormant else "edge"
    return (
        f'<path class="{kind}" d="M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}" '
        'marker-end="url(#arrow)"/>'
    )


def _node(node: Node, x: int, y: int) -> str:
    label, note = _cut(node.label, LABEL_CHARS), _cut(node.note, NOTE_CHARS)
    return (
        f'<a href="{escape(node.href)}" class="node {escape(node.outcome)}" '
        f'data-node="{escape(node.key)}"><title>{escape(node.label)} — {escape(node.note)}</title>'
        f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6"/>'
        f'<text x="{x + 10}" y="{y + 17}">{escape(label)}</text>'
        f'<text x="{x + 10}" y="{y + 32}" class="note">{escape(note)}</text></a>'
    )


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
