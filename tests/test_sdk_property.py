"""Property: for any valid pipeline, the SDK builds exactly the IR the YAML front end
builds, and the SDK's own YAML loads back into that IR.

The random graphs come from tests/test_pipeline_roundtrip.py (every node kind, nesting,
forward next/on_failure edges in any definition order, odd names); here each one is also
written with the SDK's objects.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from magnus_render.pipeline import load_pipeline, load_pipeline_text
from magnus_render.pipeline.ir import NodeKind
from magnus_render.sdk import (
    AsIs,
    Catalog,
    Dag,
    Fail,
    Map,
    Parallel,
    Pipeline,
    Stub,
    Success,
    Task,
)
from tests.test_pipeline_roundtrip import GraphSpec, StepSpec, Writer, graph_specs
from tests.test_sdk_samples import shape


def sdk_step(spec: StepSpec, writer: Writer):
    wiring = {"next": spec.next, "on_failure": spec.on_failure}
    fields = spec.fields
    if spec.kind is NodeKind.SUCCESS:
        return Success(name=spec.name)
    if spec.kind is NodeKind.FAIL:
        return Fail(name=spec.name)
    if spec.kind is NodeKind.STUB:
        return Stub(name=spec.name, **wiring)
    if spec.kind is NodeKind.AS_IS:
        return AsIs(name=spec.name, render_string=fields["render_string"], **wiring)
    if spec.kind is NodeKind.TASK:
        catalog = fields.get("catalog")
        return Task(
            name=spec.name,
            command=fields["command"],
            command_type=fields.get("command_type"),
            max_attempts=fields.get("max_attempts"),
            catalog=Catalog(**catalog) if catalog else None,
            **wiring,
        )
    if spec.kind is NodeKind.PARALLEL:
        branches = {name: sdk_pipeline(g, writer) for name, g in spec.branches}
        return Parallel(name=spec.name, branches=branches, **wiring)
    if spec.kind is NodeKind.MAP:
        return Map(
            name=spec.name,
            branch=sdk_pipeline(spec.branches[0][1], writer),
            iterate_on=fields["iterate_on"],
            iterate_as=fields["iterate_as"],
            **wiring,
        )
    included = writer.folder / writer.step(spec)["dag_definition"]  # writes the file
    return Dag(name=spec.name, dag_definition=str(included), **wiring)


def sdk_pipeline(spec: GraphSpec, writer: Writer) -> Pipeline:
    steps = [sdk_step(s, writer) for s in spec.steps]
    return Pipeline(steps=steps, start_at=spec.start_at, add_terminal_nodes=False)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spec=graph_specs())
def test_sdk_builds_the_yaml_ir(spec: GraphSpec) -> None:
    with tempfile.TemporaryDirectory() as yaml_dir, tempfile.TemporaryDirectory() as sdk_dir:
        writer = Writer(Path(yaml_dir), flow=False)
        from_yaml = load_pipeline(writer.dump({"dag": writer.graph(spec)}, "pipeline.yaml"))
        pipeline = sdk_pipeline(spec, Writer(Path(sdk_dir), flow=False))
        assert shape(pipeline.graph) == shape(from_yaml.graph)
        reloaded = load_pipeline_text(pipeline.to_yaml(), str(Path(sdk_dir) / "p.yaml"))
        assert shape(reloaded.graph) == shape(from_yaml.graph)
        assert reloaded.dag_hash == pipeline.loaded.dag_hash
