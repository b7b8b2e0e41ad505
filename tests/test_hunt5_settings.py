"""A NUL byte in a config value (``"\\0"`` in a YAML double-quoted string): no path, URL
or name can hold one, and a store's folder holding one made the run crash with a Python
traceback (``ValueError: embedded null byte``) instead of refusing the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.helpers.runlog import run_magnus

CONFIGS = {
    "run-log-folder": (
        'run_log_store:\n  type: chunked-fs\n  config:\n    log_folder: "logs\\0x"\n',
        4,
        "run_log_store.config.log_folder",
    ),
    "catalog-location": (
        'catalog:\n  type: file-system\n  config: {catalog_location: "a\\0b"}\n',
        3,
        "catalog.config.catalog_location",
    ),
    "tracker-url": (
        "experiment_tracker:\n  type: mlflow\n  config:\n"
        '    server_url: "http://user:hunter2\\0@host"\n',
        4,
        "experiment_tracker.config.server_url",
    ),
}


@pytest.mark.parametrize("case", list(CONFIGS))
def test_a_nul_byte_in_a_setting_is_refused_at_its_line(tmp_path: Path, case: str) -> None:
    text, line, key = CONFIGS[case]
    shutil.copytree(SAMPLES, tmp_path / "samples", ignore=shutil.ignore_patterns("golden"))
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    commands = (
        ["execute", "samples/hello.yaml", "-c", "c.yaml"],
        ["compile", "--file", "samples/hello.yaml", "--config-file", "c.yaml"],
    )
    for args in commands:
        proc = run_magnus(args, tmp_path)
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        assert f"c.yaml:{line}: {key}: contains a NUL byte" in proc.stderr
        assert "hunter2" not in proc.stderr + proc.stdout
    assert not (tmp_path / ".run_log_store").exists() and not (tmp_path / "logs").exists()
