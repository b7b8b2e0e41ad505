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


#: the stores on a volume every pod mounts (a k8s-jobs render refuses unshared ones)
SHARED_CONFIG = GOLDEN / "shared-config.yaml"


def _render(sample: str, config: Path | None = SHARED_CONFIG, **extra: str) -> str:
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
    assert docs[-1]["spec"]["ttlSecondsAfterFinished"] == 43200
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
    # exactly the calls of runtime/executors/k8s_api.py (the executor test checks them live)
    assert verbs == {
        *(("jobs", v) for v in ("create", "get", "list", "watch")),
        ("pods", "list"),
        ("pods/log", "get"),
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
        "run_log_store:\n  type: s3\n  config: {bucket: magnus-test}\n"
        "catalog:\n  type: s3\n  config: {bucket: magnus-test}\n"
    )
    text, _ = render_text(SAMPLES / "hello.yaml", "k8s-jobs", config, None, IMAGE, {})
    assert secret not in text
    assert "secretKeyRef" in text


def test_parameters_file_is_shipped(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("x: 1\n")
    text, _ = render_text(SAMPLES / "hello.yaml", "k8s-jobs", SHARED_CONFIG, params, IMAGE, {})
    docs = list(yaml.safe_load_all(text))
    assert docs[0]["data"]["parameters.yaml"] == "x: 1\n"
    command = docs[-1]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--parameters-file") + 1] == "/magnus/spec/parameters.yaml"


def test_placeholder_image_warns() -> None:
    _, warnings = render_text(SAMPLES / "hello.yaml", "k8s-jobs", SHARED_CONFIG, None, None, {})
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
    files = sorted(
        str(p) for p in GOLDEN.glob("*.yaml") if p.name not in ("config.yaml", "shared-config.yaml")
    )
    assert len(files) > len(SAMPLE_NAMES)
    proc = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", "-k", version, *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"schedule": "*/15 * * *"}, "--schedule '*/15 * * *': expected 5 fields"),
        ({"schedule": "0 0 32 * *"}, "day-of-month field '32': 32 is outside 1-31"),
        ({"schedule": "0 0 * 13 *"}, "month field '13'"),
        ({"schedule": "@every soon"}, "@every needs a duration"),
        ({"schedule": "0 0 * * *", "timezone": "Paris"}, "--timezone 'Paris'"),
        ({"timezone": "UTC"}, "--timezone applies only with --schedule"),
    ],
)
def test_bad_cronjob_schedule_is_refused_naming_the_flag(
    extra: dict[str, str], problem: str
) -> None:
    with pytest.raises(MagnusError) as caught:
        _render("map", **extra)
    assert problem in str(caught.value)


def test_driver_job_fails_at_once_on_exit_1_and_owns_the_node_jobs() -> None:
    """podFailurePolicy: exit 1 (pipeline failed) or 2 (bad input) ends the driver Job,
    backoffLimit counts crashes only; the driver learns its Job's name and uid (downward
    API) to own the node Jobs; TTLs come from the settings."""
    docs = list(yaml.safe_load_all(_render("hello", FULL_CONFIG)))
    job = docs[-1]["spec"]
    assert job["backoffLimit"] == 3 and job["ttlSecondsAfterFinished"] == 43200
    assert job["podFailurePolicy"]["rules"][0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "driver", "operator": "In", "values": [1, 2]},
    }
    env = {e["name"]: e for e in job["template"]["spec"]["containers"][0]["env"]}
    assert env["MAGNUS_DRIVER_JOB_UID"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['batch.kubernetes.io/controller-uid']"
    )
    assert env["MAGNUS_DRIVER_JOB_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['batch.kubernetes.io/job-name']"
    )


def test_ttl_settings_are_configurable(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        FULL_CONFIG.read_text().replace(
            "    ttl_seconds_after_finished: 600\n    driver_ttl_seconds_after_finished: 43200\n",
            "    ttl_seconds_after_finished: null\n    driver_ttl_seconds_after_finished: 60\n",
        )
    )
    docs = list(yaml.safe_load_all(_render("hello", config)))
    assert docs[-1]["spec"]["ttlSecondsAfterFinished"] == 60
    driver_config = yaml.safe_load(docs[0]["data"]["config.yaml"])["executor"]["config"]
    assert driver_config["ttl_seconds_after_finished"] is None  # node Jobs: kept with the run
    from magnus_render.contract import k8s_spec

    settings = k8s_spec.K8sJobSettings.model_validate(driver_config)
    body = k8s_spec.node_job_body(
        settings, name="r-a", command=["magnus"], labels={}, annotations={}
    )
    assert "ttlSecondsAfterFinished" not in body["spec"]
    validate_manifests(yaml.safe_dump(body))


POD_LEVEL = """
    image_pull_secrets: [regcred]
    pod_security_context: {runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
    security_context: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    priority_class_name: batch-low
    scheduler_name: volcano
    runtime_class_name: gvisor
    host_aliases: [{ip: 10.0.0.5, hostnames: [mlflow.internal]}]
    dns_policy: None
    dns_config: {nameservers: [10.0.0.10], options: [{name: ndots, value: "2"}]}
    termination_grace_period_seconds: 45
    init_containers: [{name: wait-db, image: "busybox:1.36", command: [sh, -c, "true"]}]
    sidecars: [{name: proxy, image: "envoyproxy/envoy:v1.30"}]
"""


def test_pod_level_settings_on_driver_and_node_jobs(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        FULL_CONFIG.read_text()
        .replace("    labels: {team: data}\n", POD_LEVEL.lstrip("\n"))
        .replace(
            "        resources:\n          limits: {memory: 8Gi}\n",
            "        resources:\n          limits: {memory: 8Gi}\n"
            "        priority_class_name: batch-high\n        sidecars: []\n",
        )
    )
    text = _render("hello", config)
    validate_manifests(text)  # kubernetes-validate --strict, 1.30 and 1.34
    pod = list(yaml.safe_load_all(text))[-1]["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert (pod["priorityClassName"], pod["schedulerName"], pod["runtimeClassName"]) == (
        "batch-low",
        "volcano",
        "gvisor",
    )
    assert pod["dnsPolicy"] == "None" and pod["dnsConfig"]["nameservers"] == ["10.0.0.10"]
    assert pod["terminationGracePeriodSeconds"] == 45
    assert pod["hostAliases"] == [{"hostnames": ["mlflow.internal"], "ip": "10.0.0.5"}]
    # sidecars are native sidecars: the Job ends when magnus exits
    assert [(c["name"], c.get("restartPolicy")) for c in pod["initContainers"]] == [
        ("wait-db", None),
        ("proxy", "Always"),
    ]
    from magnus_render.contract import k8s_spec

    settings = k8s_spec.K8sJobSettings.model_validate(
        yaml.safe_load(next(yaml.safe_load_all(text))["data"]["config.yaml"])["executor"]["config"]
    ).for_step({"k8s-job": "big"})
    body = k8s_spec.node_job_body(settings, name="r-a", command=["m"], labels={}, annotations={})
    node = body["spec"]["template"]["spec"]
    assert node["priorityClassName"] == "batch-high"
    assert [c["name"] for c in node["initContainers"]] == ["wait-db"]  # the override's sidecars
    validate_manifests(yaml.safe_dump(body))


def test_bad_pod_level_setting_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: k8s-job\n  config:\n    image: x\n"
        "    sidecars: [{name: proxy, image: envoy, ports: [], volumeMount: []}]\n"
    )
    with pytest.raises(MagnusError) as info:
        _render("hello", config)
    assert f"{config}:5:" in str(info.value) and "unknown field 'volumeMount'" in str(info.value)


@pytest.mark.parametrize(
    ("stores", "message"),
    [
        ("", "the 'file-system' run log store (the default) at '.run_log_store'"),
        (
            "catalog:\n  type: file-system\n  config: {catalog_location: /data-other/c}\n",
            "'file-system' catalog at '/data-other/c' is not on a shared volume",
        ),
        ("run_log_store:\n  type: buffered\n", "'buffered' run log store lives"),
    ],
)
def test_stores_the_pods_cannot_share_are_refused(
    tmp_path: Path, stores: str, message: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "executor:\n  type: k8s-job\n  config:\n"
        "    pvc_mounts: [{claim_name: data, mount_path: /data}]\n"
        "run_log_store:\n  type: file-system\n  config: {log_folder: /data/logs}\n"
        * bool(stores and "run_log_store" not in stores)
        + stores
    )
    with pytest.raises(MagnusError) as info:
        _render("hello", config)
    assert (message in str(info.value) and "pvc_mounts" in str(info.value)) or (
        "buffered" in message and message in str(info.value)
    ), str(info.value)
