"""Each Argo setting lands where Argo reads it, globally and through per-step overrides;
unknown or bad settings are errors naming the config file and line (exit 2 from the CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from magnus_render.config import load_config
from magnus_render.errors import MagnusError
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.argo.validate import (
    SHIPPED_SCHEMAS,
    schema_files_in,
    validate_documents,
)
from magnus_render.renderers.base import RenderOptions
from tests.conftest import ROOT

SCHEMAS = schema_files_in(SHIPPED_SCHEMAS)

PIPELINE = """
dag:
  start_at: prepare
  steps:
    prepare:
      type: task
      command: samples.functions.make_chunks
      next: train
    train:
      type: task
      command: samples.functions.train
      overrides:
        argo: gpu
      next: each
    each:
      type: map
      iterate_on: chunks
      iterate_as: chunk
      overrides:
        argo: narrow
      next: success
      branch:
        start_at: process
        steps:
          process:
            type: task
            command: samples.functions.process_chunk
            next: success
          success:
            type: success
          fail:
            type: fail
    success:
      type: success
    fail:
      type: fail
"""

CONFIG = """
executor:
  type: argo
  config:
    image: registry.example.com/magnus:2
    image_pull_policy: IfNotPresent
    command_prefix: [poetry, run]
    namespace: pipelines
    service_account_name: magnus-runner
    resources:
      requests: {cpu: 250m, memory: 512Mi}
      limits: {cpu: "1", memory: 1Gi}
    node_selector: {pool: batch}
    tolerations:
      - {key: dedicated, operator: Equal, value: batch, effect: NoSchedule}
    affinity:
      nodeAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          nodeSelectorTerms:
            - matchExpressions:
                - {key: zone, operator: In, values: [a, b]}
    env: {LOG_LEVEL: debug}
    secrets_from_k8s:
      - API_TOKEN=api-secrets:token
      - {env: DB_PASSWORD, name: db, key: password}
    persistent_volumes:
      - {name: magnus-runs, mount_path: /mnt/runs}
    retry_strategy:
      limit: 2
      retryPolicy: OnError
      backoff: {duration: 10s, factor: 2, maxDuration: 5m}
    max_step_duration: 3600
    max_workflow_duration: 86400
    parallelism: 8
    labels: {team: ml}
    annotations: {owner: ml-platform}
    pod_gc: {strategy: OnWorkflowSuccess}
    ttl_strategy: {seconds_after_completion: 600, secondsAfterFailure: 86400}
    overrides:
      gpu:
        image: registry.example.com/magnus-gpu:2
        resources:
          limits: {gpu: 1, memory: 8Gi}
        node_selector: {pool: gpu}
        max_step_duration: 7200
        service_account_name: gpu-runner
        labels: {accelerator: nvidia}
        priority_class_name: gpu-high
        security_context: {privileged: false, capabilities: {drop: [ALL], add: [SYS_PTRACE]}}
        termination_grace_period_seconds: 120
      narrow:
        parallelism: 2
    image_pull_secrets: [regcred]
    pod_security_context: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000}
    security_context: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
    priority_class_name: batch-low
    scheduler_name: volcano
    runtime_class_name: gvisor
    host_aliases: [{ip: 10.0.0.5, hostnames: [mlflow.internal]}]
    dns_policy: None
    dns_config: {nameservers: [10.0.0.10], searches: [svc.cluster.local]}
    init_containers:
      - {name: wait-db, image: "busybox:1.36", command: [sh, -c, "until nc -z db 5432; do :; done"]}
    sidecars:
      - {name: proxy, image: "envoyproxy/envoy:v1.30", args: [--config-path, /etc/envoy.yaml]}
run_log_store:
  type: file-system
  config: {log_folder: /mnt/runs/run-logs}
catalog:
  type: file-system
  config: {catalog_location: /mnt/runs/catalog}
"""
#: stores any pod can reach, for configs about something else
S3_STORES = (
    "run_log_store:\n  type: s3\n  config: {bucket: magnus-test}\n"
    "catalog:\n  type: s3\n  config: {bucket: magnus-test}\n"
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("argo-settings")
    (folder / "pipeline.yaml").write_text(PIPELINE, encoding="utf-8")
    (folder / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return render(folder / "pipeline.yaml", folder / "config.yaml")


def render(pipeline: Path, config: Path, **kw: Any) -> dict[str, Any]:
    options = RenderOptions("pipeline.yaml", config_file="config.yaml", **kw)
    result = ArgoRenderer(load_pipeline(pipeline), load_config(config), options).render()
    docs = list(yaml.safe_load_all(result.text))
    assert validate_documents(docs, SCHEMAS) == []
    return docs[0]


def templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def node_template(doc: dict[str, Any]) -> dict[str, Any]:
    return templates(doc)["magnus-node"]


def task(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in doc["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == name)


def test_image_and_pull_policy(rendered: dict[str, Any]) -> None:
    container = node_template(rendered)["container"]
    assert container["image"] == "registry.example.com/magnus:2"
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_command_line_image_wins(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(CONFIG, encoding="utf-8")
    doc = render(tmp_path / "p.yaml", tmp_path / "c.yaml", image="cli:1")
    assert node_template(doc)["container"]["image"] == "cli:1"


def test_command_prefix_and_config_file_in_command(rendered: dict[str, Any]) -> None:
    command = node_template(rendered)["container"]["command"]
    assert command[:4] == ["poetry", "run", "magnus", "execute_single_node"]
    assert command[-7:-5] == ["--config-file", "config.yaml"]


def test_resources(rendered: dict[str, Any]) -> None:
    assert node_template(rendered)["container"]["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def test_node_selector_tolerations_affinity(rendered: dict[str, Any]) -> None:
    template = node_template(rendered)
    assert template["nodeSelector"] == {"pool": "batch"}
    assert template["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}
    ]
    terms = template["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["a", "b"]


def test_env_and_secret_references_never_values(rendered: dict[str, Any]) -> None:
    env = node_template(rendered)["container"]["env"]
    assert env == [
        {"name": "LOG_LEVEL", "value": "debug"},
        {
            "name": "API_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "token"}},
        },
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
    ]


def test_volumes_for_run_log_and_catalog(rendered: dict[str, Any]) -> None:
    volumes = rendered["spec"]["volumes"]
    claim = {"claimName": "magnus-runs"}
    assert volumes == [{"name": "pvc-magnus-runs", "persistentVolumeClaim": claim}]
    for template in templates(rendered).values():
        if "container" in template:
            assert template["container"]["volumeMounts"] == [
                {"name": "pvc-magnus-runs", "mountPath": "/mnt/runs"}
            ]


def test_service_account(rendered: dict[str, Any]) -> None:
    assert rendered["spec"]["serviceAccountName"] == "magnus-runner"
    assert "serviceAccountName" not in node_template(rendered)


def test_retry_strategy(rendered: dict[str, Any]) -> None:
    assert node_template(rendered)["retryStrategy"] == {
        "limit": 2,
        "retryPolicy": "OnError",
        "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"},
    }


def test_retry_policy_defaults_to_on_error_and_fail_node_never_retries(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        "executor:\n  type: argo\n  config:\n    retry_strategy: {limit: 3}\n"
        "    overrides: {gpu: {}, narrow: {}}\n" + S3_STORES,
        encoding="utf-8",
    )
    doc = render(tmp_path / "p.yaml", tmp_path / "c.yaml")
    assert node_template(doc)["retryStrategy"] == {"limit": 3, "retryPolicy": "OnError"}
    assert "retryStrategy" not in templates(doc)["magnus-fail"]


def test_deadlines(rendered: dict[str, Any]) -> None:
    assert node_template(rendered)["activeDeadlineSeconds"] == 3600
    assert rendered["spec"]["activeDeadlineSeconds"] == 86400


def test_parallelism_global_and_per_map(rendered: dict[str, Any]) -> None:
    assert rendered["spec"]["parallelism"] == 8
    iterations = task(rendered, "each-iterations")
    limiter = templates(rendered)[iterations["template"]]
    assert limiter["parallelism"] == 2
    assert limiter["dag"]["tasks"][0]["withParam"] == "{{inputs.parameters.items}}"
    assert iterations["arguments"]["parameters"][0]["value"] == (
        "{{tasks.each-fan-out.outputs.parameters.items}}"
    )


def test_labels_annotations_pod_gc_ttl(rendered: dict[str, Any]) -> None:
    assert rendered["metadata"]["namespace"] == "pipelines"
    assert rendered["metadata"]["labels"] == {"team": "ml"}
    assert rendered["metadata"]["annotations"] == {"owner": "ml-platform"}
    assert node_template(rendered)["metadata"]["labels"] == {"team": "ml"}
    assert rendered["spec"]["podGC"] == {"strategy": "OnWorkflowSuccess"}
    assert rendered["spec"]["ttlStrategy"] == {
        "secondsAfterCompletion": 600,
        "secondsAfterFailure": 86400,
    }


def test_override_gets_its_own_template_deep_merged(rendered: dict[str, Any]) -> None:
    gpu = templates(rendered)[task(rendered, "train")["template"]]
    assert gpu["name"] != "magnus-node"
    assert gpu["container"]["image"] == "registry.example.com/magnus-gpu:2"
    assert gpu["container"]["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},  # kept from the global settings
        "limits": {"cpu": "1", "memory": "8Gi", "nvidia.com/gpu": "1"},
    }
    assert gpu["nodeSelector"] == {"pool": "gpu"}
    assert gpu["activeDeadlineSeconds"] == 7200
    assert gpu["serviceAccountName"] == "gpu-runner"
    assert gpu["metadata"]["labels"] == {"team": "ml", "accelerator": "nvidia"}
    assert task(rendered, "prepare")["template"] == "magnus-node"


BAD = [
    ("    retry_strategyy: {limit: 1}\n", "executor.config.retry_strategyy: unknown setting", 6),
    ("    image_pull_policy: Sometimes\n", "image_pull_policy", 6),
    ("    secrets_from_k8s: [JUST_A_NAME]\n", "ENV_VAR=secret_name:key", 6),
    ("    overrides:\n      gpu: {imagee: x}\n", "overrides.gpu.imagee: unknown setting", 7),
    ("    overrides:\n      gpu: {namespace: x}\n", "gpu.namespace: cannot be set per step", 7),
]


@pytest.mark.parametrize(("line", "message", "lineno"), BAD)
def test_bad_settings_name_file_and_line(
    tmp_path: Path, line: str, message: str, lineno: int
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "# settings\nexecutor:\n  type: argo\n  config:\n    image: x\n" + line, encoding="utf-8"
    )
    with pytest.raises(MagnusError) as info:
        ArgoRenderer(
            load_pipeline(ROOT / "samples" / "hello.yaml"),
            load_config(config),
            RenderOptions("samples/hello.yaml"),
        ).render()
    text = str(info.value)
    assert message in text and f"{config}:{lineno}:" in text, text


def test_unknown_override_name_points_at_the_step(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    config = tmp_path / "c.yaml"
    config.write_text("executor:\n  type: argo\n  config:\n    image: x\n", encoding="utf-8")
    with pytest.raises(MagnusError, match=r"p\.yaml:\d+: step 'train': overrides.argo 'gpu'"):
        ArgoRenderer(load_pipeline(tmp_path / "p.yaml"), load_config(config),
                     RenderOptions("p.yaml")).render()  # fmt: skip


def test_cli_bad_setting_exits_2_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("executor:\n  type: argo\n  config:\n    imag: x\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable, "-c", "from magnus_render.cli import render_main; render_main()",
            "samples/hello.yaml", "--target", "argo", "--config-file", str(config),
        ],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert f"{config}:4:" in proc.stderr and "imag" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_pod_level_settings_globally_and_per_step(rendered: dict[str, Any]) -> None:
    node = node_template(rendered)
    assert node["securityContext"] == {"fsGroup": 2000, "runAsNonRoot": True, "runAsUser": 1000}
    assert node["container"]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
    }
    assert node["priorityClassName"] == "batch-low" and node["schedulerName"] == "volcano"
    assert node["hostAliases"] == [{"hostnames": ["mlflow.internal"], "ip": "10.0.0.5"}]
    assert node["initContainers"][0]["name"] == "wait-db"
    assert node["sidecars"][0]["image"] == "envoyproxy/envoy:v1.30"
    # what Argo has only workflow-wide goes into each template's pod spec patch
    assert json.loads(node["podSpecPatch"]) == {
        "dnsConfig": {"nameservers": ["10.0.0.10"], "searches": ["svc.cluster.local"]},
        "dnsPolicy": "None",
        "imagePullSecrets": [{"name": "regcred"}],
        "runtimeClassName": "gvisor",
    }
    gpu = templates(rendered)[task(rendered, "train")["template"]]
    assert gpu["priorityClassName"] == "gpu-high"
    assert gpu["container"]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"add": ["SYS_PTRACE"], "drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
    }
    assert json.loads(gpu["podSpecPatch"])["terminationGracePeriodSeconds"] == 120


POD_BAD = [
    ("    pod_security_context: {runAsUsr: 1}\n", "unknown field 'runAsUsr'"),
    ("    sidecars: [{name: Proxy, image: envoy}]\n", "'name' must be a DNS-1123 label"),
    ("    init_containers: [{name: wait}]\n", "'image' is required"),
    ("    init_containers: [{name: w, image: i, comand: [x]}]\n", "unknown field 'comand'"),
    ("    dns_policy: Cluster\n", "dns_policy"),
    ("    image_pull_secrets: [Reg_Cred]\n", "is not a Secret name"),
]


@pytest.mark.parametrize(("line", "message"), POD_BAD)
def test_bad_pod_level_settings_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "# settings\nexecutor:\n  type: argo\n  config:\n    image: x\n" + line + S3_STORES,
        encoding="utf-8",
    )
    with pytest.raises(MagnusError) as info:
        ArgoRenderer(
            load_pipeline(ROOT / "samples" / "hello.yaml"),
            load_config(config),
            RenderOptions("samples/hello.yaml"),
        ).render()
    assert message in str(info.value) and f"{config}:6:" in str(info.value), str(info.value)


STORES = [
    ("", "executor", "'file-system' run log store (the default) at '.run_log_store'"),
    (
        "run_log_store:\n  type: chunked-fs\n  config: {log_folder: /elsewhere/logs}\n",
        "log_folder",
        "'chunked-fs' run log store at '/elsewhere/logs' is not on a shared volume",
    ),
    ("run_log_store:\n  type: buffered\n", "run_log_store", "'buffered' run log store lives"),
    (
        "catalog:\n  type: file-system\n  config: {catalog_location: /mnt/runs/../etc}\n",
        "catalog_location",
        "'file-system' catalog at '/mnt/runs/../etc'",
    ),
]


@pytest.mark.parametrize(("stores", "where", "message"), STORES)
def test_stores_the_pods_cannot_share_are_refused(
    tmp_path: Path, stores: str, where: str, message: str
) -> None:
    config = tmp_path / "config.yaml"
    text = (
        "executor:\n  type: argo\n  config:\n    persistent_volumes:\n"
        "      - {name: runs, mount_path: /mnt/runs}\n" + stores
    )
    config.write_text(text, encoding="utf-8")
    lineno = next(i for i, line in enumerate(text.splitlines(), 1) if where in line)
    with pytest.raises(MagnusError) as info:
        ArgoRenderer(
            load_pipeline(ROOT / "samples" / "hello.yaml"),
            load_config(config),
            RenderOptions("samples/hello.yaml"),
        ).render()
    text = str(info.value)
    assert message in text and f"{config}:{lineno}:" in text, text
    assert "persistent_volumes" in text or "buffered" in text


def test_a_store_below_every_mount_renders(tmp_path: Path) -> None:
    """An override with its own volumes must mount the store's folder too."""
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    config = tmp_path / "c.yaml"
    base = CONFIG.replace(
        "        labels: {accelerator: nvidia}\n",
        "        labels: {accelerator: nvidia}\n"
        "        persistent_volumes: [{name: scratch, mount_path: /scratch}]\n",
    )
    config.write_text(base, encoding="utf-8")
    with pytest.raises(MagnusError, match="declared mounts are /mnt/runs, /scratch"):
        render(tmp_path / "p.yaml", config)
