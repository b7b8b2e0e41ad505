"""Conformance: each sample's rendered Workflow, played here, gives the local run log.

The player (tests/argo_player.py) runs every container command as a real subprocess of
this checkout's ``magnus`` CLI, in dependency order, with Argo's depends/withParam/phase
rules; the resulting run log must equal ``magnus execute``'s (normalized), failing samples
included, and the workflow phase must match the local exit code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

from magnus_render.config import load_config
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import magnus_shim, play_workflow
from tests.conftest import SAMPLES
from tests.helpers.runlog import (
    execute_in_process,
    load_run_log,
    magnus_env,
    normalize,
    prepare_workdir,
)
from tests.helpers.shared_stores import played_argo_config

# about 1 s per container here: the quicker samples run in CI, the rest with --runslow
# (map runs in CI through test_map_with_argo_config_and_per_map_parallelism below)
FAST = ["failing", "on_failure", "retry", "shell", "catalog"]
SLOW = ["hello", "map", "parallel", "include", "nested"]


def render_docs(sample: str, workdir: Path) -> list[dict]:
    """The sample's Workflow with its stores on ``workdir`` (where the pods are played),
    declared as the volume every pod mounts."""
    config = workdir / "argo.yaml"
    config.write_text(yaml.safe_dump(played_argo_config(workdir)), encoding="utf-8")
    pipeline = load_pipeline(SAMPLES / f"{sample}.yaml")
    options = RenderOptions(
        pipeline_file=f"samples/{sample}.yaml", image="magnus:test", config_file=config.name
    )
    text = ArgoRenderer(pipeline, load_config(config), options).render().text
    return list(yaml.safe_load_all(text))


def play_sample(sample: str, tmp_path: Path, concurrent: bool = False):
    workdir = prepare_workdir(tmp_path / "argo")
    bin_dir = magnus_shim(tmp_path / "bin", sys.executable)
    env = magnus_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    play = play_workflow(
        render_docs(sample, workdir), workdir, env, workflow_name="argo-play", concurrent=concurrent
    )
    return play, load_run_log(workdir, "argo-play", workdir / "argo.yaml")


def check(sample: str, tmp_path: Path, concurrent: bool = False) -> None:
    code, local = execute_in_process(sample, tmp_path / "local", "local-run")
    play, played = play_sample(sample, tmp_path, concurrent)
    assert play.phase == ("Succeeded" if code == 0 else "Failed"), play.pods
    assert normalize(played) == normalize(local)


@pytest.mark.parametrize("sample", FAST)
def test_played_workflow_matches_local_run(sample: str, tmp_path: Path) -> None:
    check(sample, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("sample", SLOW)
def test_played_workflow_matches_local_run_slow(sample: str, tmp_path: Path) -> None:
    check(sample, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["map", "nested"])
def test_concurrent_iterations_match_local_run(sample: str, tmp_path: Path) -> None:
    """Map iterations as simultaneous pods: concurrent run log writers lose nothing."""
    check(sample, tmp_path, concurrent=True)


ARGO_CONFIG = """
executor:
  type: argo
  config:
    image: magnus:test
    env: {MAGNUS_TEST_MARK: "1"}
    parallelism: 4
    overrides:
      narrow:
        parallelism: 1
"""


def test_map_with_argo_config_and_per_map_parallelism(tmp_path: Path) -> None:
    """The container commands carry --config-file; the per-map limit's extra DAG plays."""
    from tests.helpers.runlog import run_magnus

    text = (SAMPLES / "map.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "      iterate_as: chunk\n",
        "      iterate_as: chunk\n      overrides:\n        argo: narrow\n",
    )
    assert "argo: narrow" in text
    local_dir = prepare_workdir(tmp_path / "local")
    (local_dir / "narrow.yaml").write_text(text, encoding="utf-8")
    proc = run_magnus(["execute", "narrow.yaml", "--run-id", "local-run"], local_dir)
    assert proc.returncode == 0, proc.stderr

    workdir = prepare_workdir(tmp_path / "argo")
    (workdir / "narrow.yaml").write_text(text, encoding="utf-8")
    config = played_argo_config(workdir, **yaml.safe_load(ARGO_CONFIG)["executor"]["config"])
    (workdir / "argo.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    options = RenderOptions(pipeline_file="narrow.yaml", config_file="argo.yaml")
    renderer = ArgoRenderer(
        load_pipeline(workdir / "narrow.yaml"), load_config(workdir / "argo.yaml"), options
    )
    docs = list(yaml.safe_load_all(renderer.render().text))
    limited = [t for t in docs[0]["spec"]["templates"] if t.get("parallelism") == 1]
    assert len(limited) == 1
    bin_dir = magnus_shim(tmp_path / "bin", sys.executable)
    env = magnus_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    play = play_workflow(docs, workdir, env, workflow_name="argo-play")
    assert play.phase == "Succeeded", play.pods
    assert all("--config-file" in pod.command for pod in play.pods)
    played = load_run_log(workdir, "argo-play", workdir / "argo.yaml")
    assert normalize(played) == normalize(load_run_log(local_dir, "local-run"))
