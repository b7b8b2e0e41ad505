"""Property: any valid pipeline, dumped to YAML and loaded, gives the IR it was made from.

Hypothesis draws graphs as plain Python structures (tasks of every command type, stubs
and their 'as-is' alias, parallel and map branches and included dags, nested up to three
levels, forward next/on_failure edges in any definition order, names with spaces and
non-ASCII letters). They are dumped with PyYAML in block or flow style, loaded by the
front end, and the IR's nodes, kinds, edges, internal names and task fields must match
what the generator built.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magnus_render.pipeline import load_pipeline
from magnus_render.pipeline.ir import MAP_PLACEHOLDER, Graph, NodeKind

NAMES = st.text(
    alphabet=st.characters(
        categories=("Lu", "Ll", "Nd"), include_characters="_- ", max_codepoint=0x24F
    ),
    min_size=1,
    max_size=6,
).filter(lambda s: s == s.strip())
PARAM = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
MAX_DEPTH = 3


@dataclass
class StepSpec:
    name: str
    kind: NodeKind
    fields: dict[str, Any]
    next: str | None = None
    on_failure: str | None = None
    branches: list[tuple[str, GraphSpec]] = field(default_factory=list)


@dataclass
class GraphSpec:
    start_at: str
    steps: list[StepSpec]


@st.composite
def leaf_fields(draw: st.DrawFn) -> tuple[NodeKind, dict[str, Any]]:
    choice = draw(st.sampled_from(["python", "shell", "notebook", "stub", "as-is", "default"]))
    if choice == "stub":
        return NodeKind.STUB, {"type": choice}
    if choice == "as-is":
        text = draw(
            # Argo refuses '{{' (it would substitute it): only other targets' text holds it
            st.sampled_from(["echo 'a: b' # $(x)", {"argo": "true", "default": "echo {{y}}"}])
        )
        return NodeKind.AS_IS, {"type": choice, "render_string": text}
    fields: dict[str, Any] = {"type": "task"}
    if choice == "python":
        fields.update(command_type="python", command="pkg.mod.func")
    elif choice == "shell":
        fields.update(command_type="shell", command="echo 'a: b' # not yaml")
    elif choice == "notebook":
        fields.update(command_type="notebook", command="nb/train.ipynb")
    else:
        fields["command"] = "samples.functions.hello"
    if draw(st.booleans()):
        fields["max_attempts"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        fields["catalog"] = {"get": ["data/*.csv"], "put": ["out/**"]}
    return NodeKind.TASK, fields


@st.composite
def graph_specs(draw: st.DrawFn, depth: int = 0) -> GraphSpec:
    names = draw(st.lists(NAMES, min_size=3, max_size=7 if depth == 0 else 4, unique=True))
    *body_names, success, fail = names
    body: list[StepSpec] = []
    for index, name in enumerate(body_names):
        later = [*body_names[index + 1 :], success, fail]
        kinds = ["leaf"] * 3 + (["parallel", "map", "dag"] if depth < MAX_DEPTH else [])
        what = draw(st.sampled_from(kinds))
        if what == "leaf":
            kind, fields = draw(leaf_fields())
            step = StepSpec(name, kind, fields)
        elif what == "parallel":
            branch_names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
            branches = [(b, draw(graph_specs(depth + 1))) for b in branch_names]
            step = StepSpec(name, NodeKind.PARALLEL, {"type": "parallel"}, branches=branches)
        elif what == "map":
            fields = {"type": "map", "iterate_on": draw(PARAM), "iterate_as": draw(PARAM)}
            branch = draw(graph_specs(depth + 1))
            step = StepSpec(name, NodeKind.MAP, fields, branches=[(MAP_PLACEHOLDER, branch)])
        else:
            step = StepSpec(
                name,
                NodeKind.DAG,
                {"type": "dag"},
                branches=[("dag", draw(graph_specs(depth + 1)))],
            )
        step.next = draw(st.sampled_from(later))
        if draw(st.booleans()):
            step.on_failure = draw(st.sampled_from(later))
        body.append(step)
    steps = [
        *body,
        StepSpec(success, NodeKind.SUCCESS, {"type": "success"}),
        StepSpec(fail, NodeKind.FAIL, {"type": "fail"}),
    ]
    return GraphSpec(body[0].name if body else success, draw(st.permutations(steps)))


class Writer:
    """Turns a GraphSpec into YAML files (one per included dag) in ``folder``."""

    def __init__(self, folder: Path, flow: bool) -> None:
        self.folder = folder
        self.flow = flow
        self.count = 0

    def dump(self, document: dict[str, Any], name: str) -> Path:
        path = self.folder / name
        text = yaml.safe_dump(
            document, sort_keys=False, allow_unicode=True, default_flow_style=self.flow
        )
        path.write_text(text, encoding="utf-8")
        return path

    def graph(self, spec: GraphSpec) -> dict[str, Any]:
        return {"start_at": spec.start_at, "steps": {s.name: self.step(s) for s in spec.steps}}

    def step(self, spec: StepSpec) -> dict[str, Any]:
        raw = dict(spec.fields)
        if spec.kind is NodeKind.PARALLEL:
            raw["branches"] = {name: self.graph(g) for name, g in spec.branches}
        elif spec.kind is NodeKind.MAP:
            raw["branch"] = self.graph(spec.branches[0][1])
        elif spec.kind is NodeKind.DAG:
            self.count += 1
            name = f"inc{self.count}.yaml"  # taken before nested includes take theirs
            included = self.dump({"dag": self.graph(spec.branches[0][1])}, name)
            raw["dag_definition"] = included.name
        if spec.next is not None:
            raw["next"] = spec.next
        if spec.on_failure is not None:
            raw["on_failure"] = spec.on_failure
        return raw


def expected_nodes(spec: GraphSpec, prefix: str = "") -> list[tuple[Any, ...]]:
    """(internal name, kind, next, on_failure, command, max_attempts) in walk order."""
    found: list[tuple[Any, ...]] = []
    for step in spec.steps:
        internal = f"{prefix}.{step.name}" if prefix else step.name
        command = step.fields.get("command")
        attempts = step.fields.get("max_attempts", 1)
        found.append((internal, step.kind, step.next, step.on_failure, command, attempts))
        for branch_name, branch in step.branches:
            found.extend(expected_nodes(branch, f"{internal}.{branch_name}"))
    return found


def expected_graphs(spec: GraphSpec, prefix: str = "") -> list[tuple[str, str]]:
    found = [(prefix, spec.start_at)]
    for step in spec.steps:
        internal = f"{prefix}.{step.name}" if prefix else step.name
        for branch_name, branch in step.branches:
            found.extend(expected_graphs(branch, f"{internal}.{branch_name}"))
    return found


def actual_nodes(graph: Graph) -> list[tuple[Any, ...]]:
    return [
        (
            n.internal_name,
            n.kind,
            n.next_node,
            n.on_failure,
            n.task.command if n.task else None,
            n.max_attempts,
        )
        for n in graph.walk()
    ]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=graph_specs(), flow=st.booleans())
def test_random_valid_graphs_round_trip(spec: GraphSpec, flow: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        writer = Writer(Path(folder), flow)
        path = writer.dump({"dag": writer.graph(spec)}, "pipeline.yaml")
        pipeline = load_pipeline(path)
    graph = pipeline.graph
    assert actual_nodes(graph) == expected_nodes(spec)
    assert [(g.internal_name, g.start_at) for g in graph.walk_graphs()] == expected_graphs(spec)
    for node in graph.walk():
        assert graph.find(node.internal_name) is node
        if node.kind is NodeKind.TASK:
            want = next(s for s in _all_steps(spec) if s[0] == node.internal_name)[1]
            assert node.task is not None
            assert node.task.command_type.value == want.get("command_type", "python")
            catalog = want.get("catalog")
            if catalog is None:
                assert node.catalog is None
            else:
                assert node.catalog is not None
                assert (list(node.catalog.get), list(node.catalog.put)) == (
                    catalog["get"],
                    catalog["put"],
                )
        if node.kind is NodeKind.MAP:
            want = next(s for s in _all_steps(spec) if s[0] == node.internal_name)[1]
            assert (node.iterate_on, node.iterate_as) == (want["iterate_on"], want["iterate_as"])


def _all_steps(spec: GraphSpec, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for step in spec.steps:
        internal = f"{prefix}.{step.name}" if prefix else step.name
        found.append((internal, step.fields))
        for branch_name, branch in step.branches:
            found.extend(_all_steps(branch, f"{internal}.{branch_name}"))
    return found


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=graph_specs())
def test_loading_is_deterministic(spec: GraphSpec) -> None:
    with tempfile.TemporaryDirectory() as folder:
        writer = Writer(Path(folder), flow=False)
        path = writer.dump({"dag": writer.graph(spec)}, "pipeline.yaml")
        first, second = load_pipeline(path), load_pipeline(path)
    assert first.graph == second.graph
    assert first.dag_hash == second.dag_hash
