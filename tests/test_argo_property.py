"""Property: for random pipelines and random step outcomes, the rendered Workflow runs the
same nodes in the same order as magnus's routing, and ends Failed exactly when the run
reaches the fail node; and every such spec passes both schemas and the reference checks.

Random graphs come from the front end's round-trip generator (parallel, map and dag
branches nested three deep, forward next/on_failure edges, unusual names). The player
runs with an in-process stand-in for the containers (exit codes drawn by hypothesis), and
a small reference interpreter of the magnus routing rules gives the expected sequence.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magnus_render.pipeline import load_pipeline
from magnus_render.pipeline.ir import Graph, NodeKind
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.argo.validate import (
    SHIPPED_SCHEMAS,
    schema_files_in,
    validate_documents,
)
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import Player
from tests.helpers.shared_stores import argo_config
from tests.test_pipeline_roundtrip import Writer, graph_specs

SCHEMAS = schema_files_in(SHIPPED_SCHEMAS)


class FakeContainers(Player):
    """Containers answer from a table instead of running: records calls, writes items."""

    def __init__(
        self, doc: dict[str, Any], codes: dict[str, int], items: dict[str, int], work: Path
    ) -> None:
        super().__init__(doc, work, {}, workflow_name="wf")
        self.codes, self.items, self.calls = codes, items, []

    def run_container(self, argv: list[str], env: dict[str, str]) -> int:
        wrapped = argv[:2] == ["sh", "-c"]
        args = argv[argv.index("magnus") + 1 :]
        name = args[-1]  # positionals last, after --
        mode = args[args.index("--mode") + 1] if "--mode" in args else ""
        key = name if args[0] == "execute_single_node" else f"{mode}:{name}"
        self.calls.append(key)
        if "--items-file" in args:
            count = self.items.get(name, 0)
            path = Path(args[args.index("--items-file") + 1])
            path.write_text(json.dumps([json.dumps({"i": i}) for i in range(count)]), "utf-8")
        code = self.codes.get(key, 0)
        return 1 if wrapped else code


def reference(graph: Graph, codes: dict[str, int], items: dict[str, int], calls: list[str]) -> bool:
    """magnus routing: next on success, on_failure (else the fail node) on failure."""
    node = graph.nodes[graph.start_at]
    while True:
        if node.kind is NodeKind.SUCCESS or node.kind is NodeKind.FAIL:
            calls.append(node.internal_name)
            return node.kind is NodeKind.SUCCESS
        if node.kind.is_composite:
            calls.append(f"out:{node.internal_name}")
            ok = codes.get(f"out:{node.internal_name}", 0) == 0
            if ok:
                rounds = items.get(node.internal_name, 0) if node.kind is NodeKind.MAP else 1
                for _ in range(rounds):
                    for branch in node.branches:
                        reference(branch, codes, items, calls)
                calls.append(f"in:{node.internal_name}")
                ok = codes.get(f"in:{node.internal_name}", 0) == 0
        else:
            calls.append(node.internal_name)
            ok = codes.get(node.internal_name, 0) == 0
        target = node.next_node if ok else (node.on_failure or graph.fail_node.name)
        node = graph.nodes[target]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=graph_specs(), data=st.data())
def test_random_pipelines_route_like_magnus(spec: Any, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        writer = Writer(Path(folder), flow=False)
        path = writer.dump({"dag": writer.graph(spec)}, "pipeline.yaml")
        pipeline = load_pipeline(path)
        options = RenderOptions("pipeline.yaml", image="i")
        docs = list(
            yaml.safe_load_all(ArgoRenderer(pipeline, argo_config(), options).render().text)
        )
        assert validate_documents(docs, SCHEMAS) == []

        keys = []
        for node in pipeline.graph.walk():
            if node.kind.is_composite:
                keys += [f"out:{node.internal_name}", f"in:{node.internal_name}"]
            elif not node.kind.is_terminal:
                keys.append(node.internal_name)
        # each step fails with probability 1/4 (a uniform set would fail most runs)
        codes = {k: 1 for k in keys if data.draw(st.integers(0, 3), label=k) == 0}
        maps = [n.internal_name for n in pipeline.graph.walk() if n.kind is NodeKind.MAP]
        items = {m: data.draw(st.integers(0, 2)) for m in maps}

        expected: list[str] = []
        succeeded = reference(pipeline.graph, codes, items, expected)
        player = FakeContainers(docs[-1], codes, items, Path(folder))
        play = player.run()
    assert player.calls == expected
    assert play.phase == ("Succeeded" if succeeded else "Failed")
