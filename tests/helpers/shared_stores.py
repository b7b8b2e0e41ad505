"""Configs whose run log store and catalog sit on a volume every pod or task mounts: the
Argo, k8s-jobs and Step Functions targets refuse to render stores their pods cannot all
reach, so tests that render for them without caring about stores use these."""

from __future__ import annotations

from pathlib import Path

from magnus_render.config import MagnusConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
ARGO_CONFIG = ROOT / "samples" / "golden" / "argo" / "config.yaml"
K8S_CONFIG = ROOT / "samples" / "golden" / "k8s-jobs" / "shared-config.yaml"
SFN_CONFIG = ROOT / "samples" / "golden" / "stepfunctions" / "config.yaml"
#: the same paths relative to the repository (as rendered commands name them)
ARGO_CONFIG_REL = "samples/golden/argo/config.yaml"
K8S_CONFIG_REL = "samples/golden/k8s-jobs/shared-config.yaml"
SFN_CONFIG_REL = "samples/golden/stepfunctions/config.yaml"


def argo_config() -> MagnusConfig:
    return load_config(ARGO_CONFIG)


def shared_argo_yaml(mount: Path | str) -> str:
    """An argo config text with file-system stores below ``mount``, a PVC mounted there
    (for tests that play the containers on this machine, in a temporary folder)."""
    return (
        "executor:\n  type: argo\n  config:\n    persistent_volumes:\n"
        f"      - {{name: magnus-data, mount_path: '{mount}'}}\n"
        f"run_log_store:\n  type: file-system\n  config: {{log_folder: '{mount}/.run_log_store'}}\n"
        f"catalog:\n  type: file-system\n  config: {{catalog_location: '{mount}/.catalog'}}\n"
    )


def s3_config() -> MagnusConfig:
    """Stores on S3: reachable from any pod, and nothing of them in a rendered Argo spec
    (for tests that measure spec sizes)."""
    s3 = {"type": "s3", "config": {"bucket": "magnus-test"}}
    return MagnusConfig.model_validate({"run_log_store": s3, "catalog": s3})


def played_argo_config(folder: Path, **settings: object) -> dict[str, object]:
    """An argo config for a Workflow the tests play on this machine: ``folder`` (where
    the containers run) is the shared volume, the stores live in it."""
    volumes = [{"name": "magnus-data", "mount_path": str(folder)}]
    return {
        "executor": {"type": "argo", "config": {"persistent_volumes": volumes, **settings}},
        "run_log_store": {
            "type": "file-system",
            "config": {"log_folder": f"{folder}/.run_log_store"},
        },
        "catalog": {"type": "file-system", "config": {"catalog_location": f"{folder}/.catalog"}},
    }


#: config sections with both stores on S3 (reachable from any pod; nothing to play)
S3_STORES = {
    "run_log_store": {"type": "s3", "config": {"bucket": "magnus-test"}},
    "catalog": {"type": "s3", "config": {"bucket": "magnus-test"}},
}
