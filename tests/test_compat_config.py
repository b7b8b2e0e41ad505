"""magnus 0.5's config names: run log stores, executors, and the argo executor section
read by the argo target."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.test_compat_projects import magnus, project, run_logs


@pytest.mark.parametrize("store", ["buffered", "file-system", "chunked-fs"])
def test_run_log_store_types(store: str, tmp_path: Path) -> None:
    workdir = project("parameters_api", tmp_path)
    (workdir / "cfg.yaml").write_text(f"run_log_store:\n  type: {store}\n")
    (workdir / "pipeline.yaml").write_text(
        "dag:\n  start_at: set_params\n  steps:\n"
        "    set_params: {type: task, command: functions.set_params, next: success}\n"
        "    success: {type: success}\n    fail: {type: fail}\n"
    )
    run_id = f"store-{store}"
    result = magnus(workdir, "execute", "-c", "cfg.yaml", "--run-id", run_id)
    assert result.returncode == 0, result.stderr
    log = run_logs(workdir, "cfg.yaml")[run_id]
    assert log.parameters == {"simple": 1, "inner": {"x": 10, "y": "hello"}}
    assert log.run_config["run_log_store"]["type"] == store
    assert (workdir / ".run_log_store").exists() == (store != "buffered")


@pytest.mark.parametrize("executor", ["local", "local-container", "mocked"])
def test_executor_types_exist(executor: str) -> None:
    from magnus_render.runtime.executors import executor_class

    assert executor_class(executor).name == executor


def test_argo_executor_section_drives_the_argo_target(tmp_path: Path) -> None:
    """A magnus 0.5 argo config (executor type argo, an image) renders with magnus-render."""
    from magnus_render.render import render_text

    workdir = project("simple", tmp_path)
    config = workdir / "argo-config.yaml"
    config.write_text(  # as magnus 0.5's argo docs set it up: stores on a mounted PVC
        "executor:\n  type: argo\n  config:\n    image: my/image:1\n"
        "    persistent_volumes:\n      - name: magnus-volume\n        mount_path: /mnt\n"
        "run_log_store:\n  type: file-system\n  config:\n    log_folder: /mnt/run_log_store\n"
        "catalog:\n  type: file-system\n  config:\n    catalog_location: /mnt/catalog\n"
    )
    text, _ = render_text(workdir / "pipeline.yaml", "argo", config_file=config)
    assert "my/image:1" in set(_values(yaml.safe_load(text), "image"))


def _values(doc: object, key: str) -> list[object]:
    """Every value stored under ``key`` anywhere in a YAML document."""
    found: list[object] = []
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.extend(v for k, v in item.items() if k == key)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
