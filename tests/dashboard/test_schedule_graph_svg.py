"""The dependency graph's SVG: columns by depth left to right, colours by outcome, links,
escaped labels, dashed dormant edges; a cycle never loops."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from dashboard.schedules.drawing import NODE_WIDTH, Edge, Node, depths, draw

SVG = "{http://www.w3.org/2000/svg}"


def node(key: str, outcome: str = "completed", label: str | None = None) -> Node:
    return Node(key, label or key, "every minute", f"/trax/schedules/{key}/", outcome)


def x_of(svg: str, key: str) -> int:
    match = re.search(rf'data-node="{key}"><title>.*?</title><rect x="(\d+)"', svg)
    assert match, key
    return int(match[1])


def test_depth_is_one_more_than_the_deepest_parent() -> None:
    edges = [Edge("a", "b"), Edge("b", "c"), Edge("a", "c"), Edge("x", "y")]
    assert depths(["a", "b", "c", "x", "y", "z"], edges) == {
        "a": 0, "b": 1, "c": 2, "x": 0, "y": 1, "z": 0,
    }  # fmt: skip


def test_a_cycle_does_not_loop() -> None:
    found = depths(["a", "b"], [Edge("a", "b"), Edge("b", "a")])
    assert set(found) == {"a", "b"}


def test_parents_are_drawn_left_of_what_they_run() -> None:
    svg = draw(
        [node("extract"), node("transform", "failed"), node("load", "none")],
        [Edge("extract", "transform"), Edge("transform", "load")],
        title="t",
    )
    ET.fromstring(svg)  # well-formed
    assert x_of(svg, "extract") < x_of(svg, "transform") < x_of(svg, "load")
    assert x_of(svg, "transform") - x_of(svg, "extract") > NODE_WIDTH
    assert 'class="node failed" data-node="transform"' in svg
    assert 'href="/trax/schedules/load/"' in svg
    assert svg.count('class="edge"') == 2


def test_dormant_edges_are_their_own_kind_and_labels_are_escaped() -> None:
    svg = draw(
        [node("p"), node("c", label='<script>alert("x")</script>')],
        [Edge("p", "c", dormant=True)],
        title="<b>graph</b>",
    )
    root = ET.fromstring(svg)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<b>" not in svg
    assert 'class="edge dormant"' in svg
    assert root.tag == f"{SVG}svg"


def test_long_labels_are_cut_and_nothing_is_drawn_without_nodes() -> None:
    svg = draw([node("k", label="a-very-long-schedule-name-that-goes-on-and-on")], [], title="t")
    assert "a-very-long-schedule-name-t…<" in svg
    assert "<title>a-very-long-schedule-name-that-goes-on-and-on" in svg
    assert draw([], [], title="t") == ""
