"""The k8s-jobs target: golden manifests, strict Kubernetes validation, settings errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from magnus_render.errors import MagnusError
from magnus_render.render import render_text
from magnus_render.renderers.k8s_jobs import DRIVER_RULES, validate_manifests
from tests.conftest import ROOT, SAMPLES
from tests.golden import assert_golden
from tests.helpers.deps import require

GOLDEN = SAMPLES / "golden" / "k8s-jobs"
FULL_CONFIG = GOLDEN / "config.yaml"
IMAGE = "registry.example.com/magnus:1.0"
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.yaml"))

kubernetes_validate = require("kubernetes_validate")


def _render(sample: str, config: Path | None = None, **extra: str) -> str:
    text, _ = render_text(SAMPLES / f"{sample}.yaml", "k8s-jobs", config, None, IMAGE, extra)
    return text


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_sample_golden_and_strict_valid(sample: str) -> None:
    text = _render(sample)
    assert_golden(GOLDEN / f"{sample}.yaml", text)
    validate_manifests(text, sample)
    assert _render(sample) == text  # same input, same bytes


def test_full_settings_golden() -> None:
    text = _render("hello", FULL_CONFIG)
    assert_golden(GOLDEN / "hello-full-config.yaml", text)
    validate_manifests(text)
    docs = list(yaml.safe_load_all(text))
    pod = docs[-1]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert docs[-1]["metadata"]["namespace"] == "pipelines"
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "batch"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert {"claimName": "magnus-data"} in [v.get("persistentVolumeClaim") for v in pod["volumes"]]
    assert docs[-1]["spec"]["backoffLimit"] == 3
    assert docs[-1]["spec"]["ttlSecondsAfterFinished"] == 600
    assert docs[-1]["spec"]["activeDeadlineSeconds"] == 7200  # the run's, not a node's (600)
    # the driver's config keeps the user's stores and carries the resolved executor settings
    config = yaml.safe_load(docs[0]["data"]["config.yaml"])
    assert config["run_log_store"] == {
        "type": "file-system",
        "config": {"log_folder": "/data/run-logs"},
    }
    assert config["executor"]["type"] == "k8s-job"
    assert config["executor"]["config"]["parallelism"] == 8
    assert (
        config["executor"]["config"]["overrides"]["big"]["resources"]["limits"]["memory"] == "8Gi"
    )


def test_cronjob_with_schedule() -> None:
    text = _render("map", schedule="*/15 * * * *", timezone="Etc/UTC")
    assert_golden(GOLDEN / "map-cronjob.yaml", text)
    validate_manifests(text)
    cron = list(yaml.safe_load_all(text))[-1]
    assert cron["kind"] == "CronJob"
    assert cron["spec"]["schedule"] == "*/15 * * * *"
    assert cron["spec"]["timeZone"] == "Etc/UTC"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_objects_and_rbac_are_exactly_what_the_driver_needs() -> None:
    docs = list(yaml.safe_load_all(_render("parallel")))
    assert [d["kind"] for d in docs] == [
        "ConfigMap",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Job",
    ]
    role = docs[2]
    assert role["rules"] == DRIVER_RULES
    verbs = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert verbs == {
        *(("jobs", v) for v in ("create", "get", "list", "watch", "delete")),
        *((r, v) for r in ("pods", "pods/log") for v in ("get", "list")),
    }
    binding = docs[3]
    assert binding["subjects"][0]["name"] == docs[1]["metadata"]["name"]
    assert docs[4]["spec"]["template"]["spec"]["serviceAccountName"] == docs[1]["metadata"]["name"]


def test_included_files_are_mounted_at_their_relative_paths() -> None:
    docs = list(yaml.safe_load_all(_render("include")))
    data = docs[0]["data"]
    assert data["included__training.yaml"] == (SAMPLES / "included" / "training.yaml").read_text()
    volume = docs[-1]["spec"]["template"]["spec"]["volumes"][0]["configMap"]
    assert {"key": "included__training.yaml", "path": "included/training.yaml"} in volume["items"]


def test_secret_values_are_never_rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-value-never-in-spec"
    (tmp_path / ".env").write_text(f"DB_PASSWORD={secret}\n")
    monkeypatch.setenv("DB_PASSWORD", secret)
    config = tmp_path / "config.yaml"
    config.write_text(
        "executor:\n  type: k8s-job\n  config:\n    secret_env:\n"
        "      - {name: DB_PASSWORD, secret_name: db, key: password}\n"
        f"secrets:\n  type: dotenv\n  config: {{location: {tmp_path / '.env'}}}\n"
    )
    text, _ = render_text(SAMPLES / "hello.yaml", "k8s-jobs", config, None, IMAGE, {})
    assert secret not in text
    assert "secretKeyRef" in text


def test_parameters_file_is_shipped(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("x: 1\n")
    text, _ = render_text(SAMPLES / "hello.yaml", "k8s-jobs", None, params, IMAGE, {})
    docs = list(yaml.safe_load_all(text))
    assert docs[0]["data"]["parameters.yaml"] == "x: 1\n"
    command = docs[-1]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--parameters-file") + 1] == "/magnus/spec/parameters.yaml"


def test_placeholder_image_warns() -> None:
    _, warnings = render_text(SAMPLES / "hello.yaml", "k8s-jobs", None, None, None, {})
    assert any("image" in w for w in warnings)


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("    namspace: x\n", 4, "namspace: unknown field"),
        ("    resources: {limits: {memory: 2 GB}}\n", 4, "not a Kubernetes quantity"),
        ("    namespace: Bad_NS\n", 4, "DNS-1123"),
        ("    tolerations: [{operator: Maybe}]\n", 4, "tolerations"),
        ("    overrides: {big: {namespace: other}}\n", 4, "override 'big': namespace"),
    ],
)
def test_bad_settings_name_file_and_line(tmp_path: Path, body: str, line: int, needle: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("# k8s\nexecutor:\n  type: k8s-job\n  config:\n" + body)
    with pytest.raises(MagnusError) as info:
        render_text(SAMPLES / "hello.yaml", "k8s-jobs", config, None, IMAGE, {})
    message = str(info.value)
    assert f"{config}:{line + 1}:" in message or f"{config}:{line}:" in message, message
    assert needle in message


def test_unknown_step_override_names_the_pipeline_line(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "dag:\n  start_at: a\n  steps:\n    a:\n      type: stub\n"
        "      overrides: {k8s-job: huge}\n      next: success\n"
        "    success:\n      type: success\n    fail:\n      type: fail\n"
    )
    with pytest.raises(MagnusError) as info:
        render_text(pipeline, "k8s-jobs", None, None, IMAGE, {})
    assert f"{pipeline}:4:" in str(info.value)
    assert "'huge'" in str(info.value)


def test_cli_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("executor:\n  type: k8s-job\n  config:\n    parallelism: 0\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from magnus_render.cli import render_main; render_main()",
            "--target",
            "k8s-jobs",
            "-c",
            str(config),
            str(SAMPLES / "hello.yaml"),
            "--validate",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{config}:4:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_validator_rejects_what_kubernetes_would() -> None:
    docs = list(yaml.safe_load_all(_render("hello")))
    docs[-1]["spec"]["template"]["spec"]["containers"][0]["imagePolicy"] = "Always"
    with pytest.raises(MagnusError, match="imagePolicy"):
        validate_manifests(yaml.safe_dump_all(docs))


def test_kubernetes_is_imported_lazily() -> None:
    code = (
        "import sys, magnus_render.renderers.k8s_jobs, magnus_render.runtime.executors.k8s_job\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('kubernetes', 'kubernetes_validate')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("version", ["1.30.0", "1.34.0"])
def test_goldens_pass_the_kubernetes_validate_cli(version: str) -> None:
    """The same check as a user would run: `kubernetes-validate --strict -k VERSION`."""
    files = sorted(str(p) for p in GOLDEN.glob("*.yaml") if p.name != "config.yaml")
    assert len(files) > len(SAMPLE_NAMES)
    proc = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", "-k", version, *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
