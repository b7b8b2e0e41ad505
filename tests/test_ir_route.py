"""Graph.route: magnus's routing answered once, for the executor and every target.

Each case is one rule: success goes to ``next``; a failure to ``on_failure``, else to the
graph's fail node; terminal nodes end their graph (a branch's end returns to the composite
whose fan-in rolls it up); a composite fans out and its fan-in routes like a task. The walk
helpers (reachable, topological order, the renderer scopes) are checked against it.
"""

from __future__ import annotations

import pickle
import textwrap
import threading

import pytest

from magnus_render.pipeline.build import load_pipeline_text
from magnus_render.pipeline.ir import Graph, NodeKind
from magnus_render.pipeline.route import reachable, topological
from magnus_render.renderers.base import Scope, scopes, walk

PIPELINE = textwrap.dedent(
    """\
    dag:
      start_at: first
      steps:
        first:
          type: task
          command_type: shell
          command: "true"
          next: risky
        risky:
          type: stub
          next: par
          on_failure: recover
        recover:
          type: stub
          next: explicit
        explicit:
          type: stub
          next: each
          on_failure: oops
        par:
          type: parallel
          next: success
          branches:
            left:
              start_at: l1
              steps:
                l1: {type: stub, next: success}
                success: {type: success}
                fail: {type: fail}
        each:
          type: map
          iterate_on: xs
          iterate_as: x
          next: success
          on_failure: recover2
          branch:
            start_at: m1
            steps:
              m1: {type: stub, next: done}
              done: {type: success}
              broke: {type: fail}
        recover2:
          type: stub
          next: oops
        orphan:
          type: stub
          next: success
        success:
          type: success
        oops:
          type: fail
    """
)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return load_pipeline_text(PIPELINE, "route.yaml").graph


def test_success_goes_to_next_and_failure_without_on_failure_to_the_fail_node(
    graph: Graph,
) -> None:
    route = graph.route(graph.node("first"))
    assert (route.next, route.on_failure, route.to_fail_node) == ("risky", "oops", True)
    assert route.ends is None and not route.fans_out
    assert route.targets == ("risky", "oops")


def test_failure_with_on_failure_goes_there_not_to_the_fail_node(graph: Graph) -> None:
    route = graph.route(graph.node("risky"))
    assert (route.next, route.on_failure, route.to_fail_node) == ("par", "recover", False)


def test_on_failure_naming_the_fail_node_is_a_failure_to_the_fail_node(graph: Graph) -> None:
    route = graph.route(graph.node("explicit"))
    assert (route.on_failure, route.to_fail_node) == ("oops", True)


def test_next_to_the_fail_node_is_one_target(graph: Graph) -> None:
    route = graph.route(graph.node("recover2"))
    assert (route.next, route.on_failure, route.to_fail_node) == ("oops", "oops", True)
    assert route.targets == ("oops",)


def test_terminal_nodes_end_the_root_graph_and_lead_nowhere(graph: Graph) -> None:
    for name, kind in (("success", NodeKind.SUCCESS), ("oops", NodeKind.FAIL)):
        route = graph.route(graph.node(name))
        assert (route.next, route.on_failure, route.ends, route.returns_to) == (
            None,
            None,
            kind,
            None,
        )
        assert route.targets == ()


def test_a_branch_ends_at_its_composite_whose_fan_in_rolls_it_up(graph: Graph) -> None:
    branch = graph.node("each").branch
    done, broke = branch.route(branch.node("done")), branch.route(branch.node("broke"))
    assert (done.ends, done.returns_to) == (NodeKind.SUCCESS, "each")
    assert (broke.ends, broke.returns_to) == (NodeKind.FAIL, "each")
    left = graph.node("par").branches[0]
    inner = left.route(left.node("l1"))
    assert (inner.next, inner.on_failure, inner.to_fail_node) == ("success", "fail", True)
    assert left.route(left.node("success")).returns_to == "par"


def test_a_composite_fans_out_and_routes_its_fan_in_like_a_task(graph: Graph) -> None:
    par, each = graph.route(graph.node("par")), graph.route(graph.node("each"))
    assert par.fans_out and each.fans_out
    assert (par.next, par.on_failure, par.to_fail_node) == ("success", "oops", True)
    assert (each.next, each.on_failure, each.to_fail_node) == ("success", "recover2", False)


def test_a_node_of_another_graph_has_no_route_here(graph: Graph) -> None:
    branch = graph.node("each").branch
    with pytest.raises(KeyError):
        graph.route(branch.node("m1"))
    with pytest.raises(KeyError):
        branch.route(graph.node("first"))


def test_routes_are_the_same_from_concurrent_threads() -> None:
    fresh = load_pipeline_text(PIPELINE, "route.yaml").graph
    seen: list[object] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            seen.extend(fresh.route(node).on_failure for node in fresh)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(seen) == 8 * len(fresh)


def test_reachable_follows_routes_and_drops_what_never_runs(graph: Graph) -> None:
    names = [n.name for n in reachable(graph)]
    assert "orphan" not in names
    assert names == [n.name for n in graph if n.name != "orphan"]


def test_topological_order_points_every_route_forward(graph: Graph) -> None:
    order = [n.name for n in topological(graph)]
    assert sorted(order) == sorted(graph.nodes)
    position = {name: i for i, name in enumerate(order)}
    for node in graph:
        for target in graph.route(node).targets:
            assert position[target] > position[node.name], (node.name, target)
    # recover routes back to a step defined after it, orphan to one defined before it
    assert position["explicit"] > position["recover"]


def test_scopes_follow_walk_graphs_and_know_maps(graph: Graph) -> None:
    found = list(scopes(graph))
    assert [s.graph.internal_name for s in found] == [g.internal_name for g in graph.walk_graphs()]
    by_name = {s.graph.internal_name: s for s in found}
    assert by_name[""].root and not by_name[""].in_map
    assert by_name["par.left"].parent is graph.node("par")
    assert not by_name["par.left"].in_map
    assert by_name["each.{map}"].in_map and not by_name["each.{map}"].root


def test_walk_hands_each_emitter_its_route_and_scope(graph: Graph) -> None:
    root = Scope(graph)
    out = walk(root, lambda node, route, scope: (node.name, route.next, scope is root))
    assert out[0] == ("first", "risky", True)
    assert len(out) == len(graph)
    subset = walk(root, lambda node, route, scope: route.node is node, [graph.node("par")])
    assert subset == [True]


def test_routes_survive_the_compiled_cache_and_are_not_stored_in_it() -> None:
    from magnus_render.pipeline import compiled

    fresh = load_pipeline_text(PIPELINE, "route.yaml")
    expected = {node.name: fresh.graph.route(node).on_failure for node in fresh.graph}
    again = pickle.loads(compiled._dumps(fresh))  # the graph's routes were computed
    graph = again.graph
    assert graph._routes == {}
    assert {node.name: graph.route(node).on_failure for node in graph} == expected


def test_the_shell_target_stays_the_small_example_of_docs_extending() -> None:
    """docs/extending.md walks through renderers/shell.py as the whole of a target written
    on the shared walk; it must stay that small (its template counts separately)."""
    from tests.conftest import ROOT

    lines = (ROOT / "magnus_render" / "renderers" / "shell.py").read_text().count("\n")
    assert lines < 200, f"renderers/shell.py has {lines} lines"
    guide = (ROOT / "docs" / "extending.md").read_text()
    assert "### New target walkthrough: the shell target" in guide
