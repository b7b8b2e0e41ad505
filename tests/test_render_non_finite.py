"""Infinity and NaN never reach a rendered spec: a config or render manifest holding one is
refused with its file, line and key (exit 2, no traceback), and a value given in code is
refused by the writer naming where in the spec it is, for every target."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from magnus_render.config import MagnusConfig, ServiceConfig
from magnus_render.errors import ConfigError, PipelineError
from magnus_render.pipeline import load_pipeline
from magnus_render.render import render_text
from magnus_render.renderers import get_renderer
from magnus_render.renderers.base import RenderOptions
from magnus_render.yamltext import NonFiniteNumber
from tests.conftest import ROOT, SAMPLES

HELLO = SAMPLES / "hello.yaml"
#: per target: an executor section with a setting on line 6 of the file
SECTIONS = {
    "argo": "type: argo\n  config:\n    resources:\n      limits:\n        cpu: {bad}",
    "stepfunctions": (
        "type: stepfunctions\n  config:\n    job_queue: q\n    retry:\n      - backoff_rate: {bad}"
    ),
    "k8s-jobs": "type: k8s-job\n  config:\n    image: x\n    namespace: n\n    parallelism: {bad}",
    "shell": "type: local\n  config:\n    enable_parallel: true\n    \n    max_workers: {bad}",
}


@pytest.mark.parametrize("bad", [".inf", "-.inf", ".nan", ".NaN"])
@pytest.mark.parametrize("target", list(SECTIONS))
def test_config_with_infinity_or_nan_names_file_line_and_key(
    tmp_path: Path, target: str, bad: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("executor:\n  " + SECTIONS[target].format(bad=bad) + "\n")
    with pytest.raises(ConfigError) as caught:
        render_text(HELLO, target, config, None, "img:1", {})
    message = str(caught.value)
    assert message.startswith(f"{config}:6: executor.config."), message
    assert "not a finite number" in message


def test_cli_refuses_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("executor:\n  type: argo\n  config:\n    resources:\n      limits:\n")
    config.write_text(config.read_text() + "        cpu: .inf\n        memory: 1Gi\n")
    output = tmp_path / "wf.yaml"
    output.write_text("kept\n")
    magnus_render = Path(sys.executable).parent / "magnus-render"
    proc = subprocess.run(
        [str(magnus_render), "--target", "argo", str(HELLO), "-c", str(config), "-o", str(output)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{config}:6: executor.config.resources.limits.cpu: not a finite" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert output.read_text() == "kept\n"  # nothing already written is lost


def test_render_manifest_with_infinity_names_file_and_line(tmp_path: Path) -> None:
    from magnus_render.gitops.manifest import load_manifest

    manifest = tmp_path / "render.yaml"
    manifest.write_text(
        "renders:\n  - pipelines: hello.yaml\n    target: argo\n    output: x.yaml\n"
        "    image: -.inf\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_manifest(manifest)
    message = str(caught.value)
    assert message.startswith(f"{manifest}:5: renders[0].image: not a finite number"), message


@pytest.mark.parametrize(
    ("target", "executor", "where"),
    [
        (
            "argo",
            {"type": "argo", "config": {"affinity": {"nodeAffinity": {"weight": math.nan}}}},
            "affinity.nodeAffinity.weight",
        ),
        (
            "stepfunctions",
            {"type": "stepfunctions", "config": {"retry": [{"backoff_rate": math.inf}]}},
            "BackoffRate",
        ),
    ],
)
def test_a_value_given_in_code_is_refused_by_the_writer(
    target: str, executor: dict, where: str
) -> None:
    s3 = ServiceConfig(type="s3", config={"bucket": "b"})  # stores every pod reaches
    config = MagnusConfig(executor=ServiceConfig(**executor), run_log_store=s3, catalog=s3)
    renderer = get_renderer(target)(load_pipeline(HELLO), config, RenderOptions(str(HELLO)))
    with pytest.raises(NonFiniteNumber) as caught:
        renderer.render()
    assert caught.value.path.endswith(where), caught.value.path


def test_k8s_jobs_refuses_an_infinite_store_setting_given_in_code() -> None:
    config = MagnusConfig(
        executor=ServiceConfig(
            type="k8s-job",
            config={"image": "x", "pvc_mounts": [{"claim_name": "d", "mount_path": "/x"}]},
        ),
        run_log_store=ServiceConfig(
            type="file-system", config={"log_folder": "/x/logs", "n": math.nan}
        ),
        catalog=ServiceConfig(type="file-system", config={"catalog_location": "/x/catalog"}),
    )
    renderer = get_renderer("k8s-jobs")(load_pipeline(HELLO), config, RenderOptions(str(HELLO)))
    with pytest.raises(NonFiniteNumber) as caught:
        renderer.render()
    assert caught.value.path == "run_log_store.config.n"


def test_sdk_refuses_infinity_naming_the_pipeline_line() -> None:
    from magnus_render.sdk import Pipeline, Stub

    with pytest.raises(PipelineError) as caught:
        Pipeline(steps=[Stub(name="s", weight=math.inf, terminate_with_success=True)])
    message = str(caught.value)
    assert message.startswith(f"{__file__}:"), message
    assert "steps.s.weight" in message and "not a finite number" in message, message
