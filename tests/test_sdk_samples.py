"""Every sample pipeline, written once in YAML and once with the SDK, is the same pipeline:
the same IR (node order included), the same YAML after a round trip, the same specs."""

from __future__ import annotations

import importlib
import re
import runpy
import shutil
from pathlib import Path

import pytest
import yaml

from magnus_render.errors import MagnusError
from magnus_render.pipeline import load_pipeline, load_pipeline_text
from magnus_render.pipeline.ir import Graph
from tests.conftest import SAMPLES

#: folders of samples/ that hold no sample pipelines of their own
_NOT_SAMPLES = {"golden", "included", "sdk", "__pycache__"}
#: every YAML sample pipeline by name: samples/NAME.yaml or samples/FOLDER/NAME.yaml
YAML_SAMPLES = {
    p.stem: p
    for p in [*SAMPLES.glob("*.yaml"), *SAMPLES.glob("*/*.yaml")]
    if p.parent == SAMPLES or p.parent.name not in _NOT_SAMPLES
}
SAMPLE_NAMES = sorted(p.stem for p in (SAMPLES / "sdk").glob("*.py") if p.stem != "__init__")


def yaml_sample(name: str) -> Path:
    """The YAML twin of an SDK sample; a sample without one fails, it is not skipped."""
    assert name in YAML_SAMPLES, f"samples/sdk/{name}.py has no YAML twin samples/{name}.yaml"
    return YAML_SAMPLES[name]


def sdk_pipeline(name: str):
    return importlib.import_module(f"samples.sdk.{name}").pipeline


def shape(graph: Graph) -> list[tuple]:
    """Every node in definition order with all its fields (Graph == ignores dict order)."""
    return [(n.internal_name, n) for n in graph.walk()] + [
        (g.internal_name, g.start_at, g.description, list(g.nodes)) for g in graph.walk_graphs()
    ]


def test_every_yaml_sample_has_an_sdk_twin() -> None:
    missing = sorted(set(YAML_SAMPLES) - set(SAMPLE_NAMES))
    assert not missing, (
        f"samples without an SDK twin: {missing}. Write samples/sdk/<name>.py defining "
        "`pipeline` (see samples/sdk/hello.py); issue 10 requires every sample in both forms"
    )


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_same_ir(name: str) -> None:
    from_yaml = load_pipeline(yaml_sample(name)).graph
    from_sdk = sdk_pipeline(name).graph
    assert from_sdk == from_yaml
    assert shape(from_sdk) == shape(from_yaml)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_to_yaml_round_trips(name: str) -> None:
    pipeline = sdk_pipeline(name)
    text = pipeline.to_yaml()
    # loaded as if it sat next to the Python file, so dag_definition resolves the same
    reloaded = load_pipeline_text(text, str(SAMPLES / "sdk" / f"{name}.yaml"))
    assert shape(reloaded.graph) == shape(pipeline.graph)
    assert reloaded.dag_hash == pipeline.loaded.dag_hash
    assert pipeline.to_yaml() == text  # deterministic


def _targets() -> list[str]:
    """Every target (one whose renderer does not import fails its test, it is not left out)."""
    from magnus_render.renderers import list_targets

    return list_targets()


@pytest.fixture
def samples_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("__pycache__", "golden")
    )
    return tmp_path / "samples"


def _without_source(text: str, target: str, dag_hash: str) -> str:
    """The spec minus what quotes the pipeline file itself: its dag hash, and (k8s-jobs) the
    copy of the file shipped in a ConfigMap. Hand-written YAML has comments; the SDK's
    YAML does not, so those two differ by nature. Everything else must match exactly."""
    text = text.replace(dag_hash, "<dag-hash>")
    if target != "k8s-jobs":
        return text
    docs = list(yaml.safe_load_all(text))
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "ConfigMap":
            doc["data"]["pipeline.yaml"] = "<pipeline source>"
    return yaml.safe_dump_all(docs, sort_keys=False)


@pytest.mark.parametrize("target", _targets())
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_same_rendered_spec(name: str, target: str, samples_copy: Path) -> None:
    from magnus_render.render import render_text

    yaml_file = samples_copy / yaml_sample(name).relative_to(SAMPLES)
    pipeline = runpy.run_path(str(samples_copy / "sdk" / f"{name}.py"))["pipeline"]
    try:
        expected, _ = render_text(yaml_file, target)
    except MagnusError as exc:  # a target that cannot express this sample: the same error
        with pytest.raises(MagnusError) as caught:
            pipeline.render(target, pipeline_file=yaml_file)
        assert re.sub(r"\S+\.(py|yaml):\d+", "", str(caught.value)) == re.sub(
            r"\S+\.(py|yaml):\d+", "", str(exc)
        )
        return
    yaml_hash = load_pipeline(yaml_file).dag_hash
    actual = pipeline.render(target, pipeline_file=yaml_file)  # writes the SDK's YAML there
    assert yaml_file.read_text(encoding="utf-8") == pipeline.to_yaml(yaml_file)
    sdk_hash = load_pipeline(yaml_file).dag_hash
    assert _without_source(actual, target, sdk_hash) == _without_source(expected, target, yaml_hash)
    if target == "k8s-jobs":  # the shipped file is exactly the SDK's YAML
        config_maps = [d for d in yaml.safe_load_all(actual) if d and d["kind"] == "ConfigMap"]
        assert config_maps[0]["data"]["pipeline.yaml"] == yaml_file.read_text(encoding="utf-8")
