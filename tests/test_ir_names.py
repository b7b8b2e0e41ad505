"""The IR's naming contract: internal names, resolve_name, find/find_graph and walk order.

An internal name is what containers receive and what the run log is keyed by, so a
resolved name must split back into the same segments and give back every map value,
whatever the values hold.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magnus_render.pipeline import load_pipeline
from magnus_render.pipeline.ir import (
    MAP_PLACEHOLDER,
    NodeKind,
    decode_map_value,
    encode_map_value,
    parent_graph_name,
    resolve_name,
)
from tests.conftest import SAMPLES

HOSTILE_VALUES: list[Any] = [
    "plain",
    "a.b.c",
    "50%",
    "%2E",
    "a/b\\c",
    'it\'s "quoted"',
    "{map}",
    "{map}.{map}",
    "",
    " ",
    "tab\tnew\nline\x00nul",
    "ünïcødé ☃ 𝄞",
    "\ud800",
    "-rf",
    "$(rm -rf /); `id`",
    0,
    -1.5,
    1e100,
    True,
    None,
    [1, "two", {"three": 3}],
    {"b": [1, 2], "a": "x.y"},
]

NESTED = "outer.{map}.par.left.inner.{map}.step"


def decode(segment: str, original: Any) -> Any:
    text = decode_map_value(segment)
    return text if isinstance(original, str) else json.loads(text)


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=repr)
def test_one_value_round_trips_through_a_single_segment(value: Any) -> None:
    resolved = resolve_name("each.{map}.train", {"item": value})
    head, segment, tail = resolved.split(".")
    assert (head, tail) == ("each", "train")
    assert decode(segment, value) == value
    assert MAP_PLACEHOLDER not in resolved
    assert resolved.isprintable() and resolved.isascii()
    assert "/" not in resolved


def test_encoding_of_ordinary_values_stays_readable() -> None:
    assert encode_map_value("region-1_eu") == "region-1_eu"
    assert encode_map_value("a b") == "a b"
    assert encode_map_value(3) == "3"
    assert encode_map_value("v1.2") == "v1%2E2"
    assert encode_map_value({"b": 1, "a": 2}) == '%7B"a": 2, "b": 1%7D'  # sorted: stable


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(outer=JSON, inner=JSON)
def test_nested_values_round_trip_outermost_first(outer: Any, inner: Any) -> None:
    resolved = resolve_name(NESTED, {"outer_var": outer, "inner_var": inner})
    parts = resolved.split(".")
    assert len(parts) == len(NESTED.split("."))
    assert parts[0] == "outer" and parts[2:5] == ["par", "left", "inner"] and parts[6] == "step"
    assert decode(parts[1], outer) == outer
    assert decode(parts[5], inner) == inner


def test_resolve_leaves_names_without_maps_alone() -> None:
    assert resolve_name("a.b", {"x": "y"}) == "a.b"
    assert resolve_name("each.{map}.x", None) == "each.{map}.x"
    assert resolve_name("each.{map}.x", {}) == "each.{map}.x"


def test_resolve_with_fewer_values_than_maps_keeps_the_inner_placeholder() -> None:
    assert resolve_name(NESTED, {"o": "a"}) == "outer.a.par.left.inner.{map}.step"


def test_a_value_spelling_the_placeholder_does_not_capture_the_next_one() -> None:
    resolved = resolve_name(NESTED, {"o": "{map}", "i": "x"})
    assert resolved == "outer.%7Bmap%7D.par.left.inner.x.step"


def test_parent_graph_name() -> None:
    assert parent_graph_name("train") == ""
    assert parent_graph_name("par.left.step") == "par.left"
    assert parent_graph_name("each.{map}.inner.{map}.x") == "each.{map}.inner.{map}"


# -- find, find_graph, walk on a real nested sample --------------------------------------


@pytest.fixture(scope="module")
def nested() -> Any:
    return load_pipeline(SAMPLES / "nested.yaml").graph


def test_internal_names_of_the_nested_sample(nested: Any) -> None:
    assert [n.internal_name for n in nested.walk()] == [
        "grid",
        "regions",
        "regions.{map}.work",
        "regions.{map}.work.fitting.seeds",
        "regions.{map}.work.fitting.seeds.{map}.fit",
        "regions.{map}.work.fitting.seeds.{map}.success",
        "regions.{map}.work.fitting.seeds.{map}.fail",
        "regions.{map}.work.fitting.success",
        "regions.{map}.work.fitting.fail",
        "regions.{map}.work.evaluation.seeds",
        "regions.{map}.work.evaluation.seeds.{map}.evaluate",
        "regions.{map}.work.evaluation.seeds.{map}.success",
        "regions.{map}.work.evaluation.seeds.{map}.fail",
        "regions.{map}.work.evaluation.success",
        "regions.{map}.work.evaluation.fail",
        "regions.{map}.success",
        "regions.{map}.fail",
        "success",
        "fail",
    ]


def test_find_returns_every_walked_node(nested: Any) -> None:
    for node in nested.walk():
        assert nested.find(node.internal_name) is node
        graph = nested.find_graph(parent_graph_name(node.internal_name))
        assert graph.nodes[node.name] is node


def test_find_graph_of_each_branch(nested: Any) -> None:
    graphs = list(nested.walk_graphs())
    assert [g.internal_name for g in graphs] == [
        "",
        "regions.{map}",
        "regions.{map}.work.fitting",
        "regions.{map}.work.fitting.seeds.{map}",
        "regions.{map}.work.evaluation",
        "regions.{map}.work.evaluation.seeds.{map}",
    ]
    for graph in graphs:
        assert nested.find_graph(graph.internal_name) is graph
    fit = nested.find_graph("regions.{map}.work.fitting.seeds.{map}")
    assert fit.start_at == "fit" and fit.name == MAP_PLACEHOLDER
    assert nested.find("regions.{map}.work.fitting.seeds.{map}.fit").in_map_depth == 2


@pytest.mark.parametrize(
    "name",
    [
        "",
        "nope",
        "grid.x.y",
        "regions.{map}",  # a branch, not a node
        "regions.{map}.nope",
        "regions.other.work",
        "regions.{map}.work.fitting",
        "regions.{map}.work.nope.seeds",
        "regions.a.work",  # a resolved name is not an internal name
    ],
)
def test_find_unknown_names_raises_key_error(nested: Any, name: str) -> None:
    with pytest.raises(KeyError):
        nested.find(name)


@pytest.mark.parametrize("name", ["grid", "regions", "regions.{map}.work", "x.y", "regions.x"])
def test_find_graph_unknown_raises_key_error(nested: Any, name: str) -> None:
    with pytest.raises(KeyError):
        nested.find_graph(name)


def test_branch_accessor_and_terminals(nested: Any) -> None:
    regions = nested.find("regions")
    assert regions.kind is NodeKind.MAP
    assert regions.branch is regions.branches[0]
    assert (regions.iterate_on, regions.iterate_as) == ("regions", "region")
    with pytest.raises(TypeError):
        _ = nested.find("regions.{map}.work").branch
    assert nested.success_node.internal_name == "success"
    assert nested.fail_node.internal_name == "fail"


def test_ir_is_immutable(nested: Any) -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        nested.start_at = "x"
    with pytest.raises(TypeError):
        nested.nodes["grid"] = nested.nodes["fail"]  # type: ignore[index]


def test_walk_of_a_100k_node_pipeline_is_iterative(tmp_path: Any) -> None:
    """Deep nesting of branches is capped; long chains are flat and walked by loops."""
    count = 20_000
    lines = ["dag:", "  start_at: s0", "  steps:"]
    for i in range(count):
        lines += [f"    s{i}:", "      type: stub", f"      next: s{i + 1}"]
    lines[-1] = "      next: success"
    lines += ["    success:", "      type: success", "    fail:", "      type: fail"]
    path = tmp_path / "long.yaml"
    path.write_text("\n".join(lines) + "\n")
    graph = load_pipeline(path).graph
    names = [n.name for n in graph.walk()]
    assert names[:2] == ["s0", "s1"] and names[-2:] == ["success", "fail"]
    assert len(names) == count + 2
    assert graph.find(f"s{count - 1}").next_node == "success"
