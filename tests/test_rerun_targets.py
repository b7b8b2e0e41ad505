"""Re-run and submit-time parameters on every rendered target (issue 17).

The scenario (tests/helpers/rerun.py): a pipeline whose middle step fails runs through
the target; the step is fixed and the run is submitted again with ``use_cached``: the
steps before it (map iterations included) are reused, not executed (counter files), the
rest run, and the run log equals a local ``magnus execute --use-cached`` run's. A value
given at submit reaches the first task and the run log records it as given at submit.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from magnus_render.config import MagnusConfig
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.base import RenderOptions
from tests.argo_player import magnus_shim, play_workflow
from tests.helpers import rerun
from tests.helpers.runlog import load_run_log, magnus_env, normalize


# -- Argo, through the test player ------------------------------------------------------
def _argo_docs(work: Path, pipeline: str, parameters_file: str | None = None) -> list[Any]:
    options = RenderOptions(pipeline_file=pipeline, parameters_file=parameters_file)
    renderer = ArgoRenderer(load_pipeline(work / pipeline), MagnusConfig(), options)
    os.chdir(work)  # the parameters file is read relative to where magnus-render runs
    return list(yaml.safe_load_all(renderer.render().text))


def _argo_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = magnus_shim(tmp_path / "bin", sys.executable)
    return magnus_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})


def test_argo_rerun_with_use_cached(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    old_local, new_local = rerun.local_rerun(tmp_path / "local")
    work = rerun.workdir(tmp_path / "argo")
    docs = _argo_docs(work, "rerun.yaml")
    env = _argo_env(tmp_path)
    play = play_workflow(docs, work, env, workflow_name="rerun-abc12")
    assert play.phase == "Failed"
    assert rerun.counters(work) == rerun.AFTER_FAILED_RUN
    assert normalize(load_run_log(work, "rerun-abc12")) == old_local
    (work / "fixed").write_text("")
    # `argo submit wf.yaml -p use_cached=rerun-abc12`: the same spec, not re-rendered
    play = play_workflow(
        docs, work, env, workflow_name="rerun-xyz34", arguments={"use_cached": "rerun-abc12"}
    )
    assert play.phase == "Succeeded", play.pods
    assert rerun.counters(work) == rerun.AFTER_RERUN
    new = load_run_log(work, "rerun-xyz34")
    assert normalize(new) == new_local
    rerun.check_rerun_log(new, "rerun-abc12")


def test_argo_run_id_and_parameter_given_at_submit(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    work = rerun.workdir(tmp_path / "argo")
    docs = _argo_docs(work, "greet.yaml", "greeting.yaml")
    arguments = {p["name"]: p["value"] for p in docs[0]["spec"]["arguments"]["parameters"]}
    assert arguments == {"use_cached": "", "run_id": "", "greeting": '"hello"'}
    env = _argo_env(tmp_path)
    play = play_workflow(docs, work, env, workflow_name="greet-1")  # the defaults
    assert play.phase == "Succeeded", play.pods
    assert json.loads((work / "greeting-seen").read_text()) == "hello"
    default = load_run_log(work, "greet-1")
    assert default.run_config["parameter_sources"] == {"greeting": "parameters_file"}
    given = {"greeting": '"bonjour"', "run_id": "my-run"}
    play = play_workflow(docs, work, env, workflow_name="greet-2", arguments=given)
    assert play.phase == "Succeeded", play.pods
    assert json.loads((work / "greeting-seen").read_text()) == "bonjour"
    log = load_run_log(work, "my-run")  # run_id given: the run is named by it
    assert log.parameters["greeting"] == "bonjour"
    assert log.run_config["parameter_sources"] == {"greeting": "submit"}
    assert log.run_config["initial_parameters"] == {"greeting": "bonjour"}
