"""Review of the container-path move to msgspec (issue 18): what the settings, config and
plugin API of the previous release accepted and meant is kept, or refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from magnus_render.config import load_config
from magnus_render.errors import ConfigError
from magnus_render.runtime.tracking import MlflowSettings
from magnus_render.stores.run_log_base import build_settings
from magnus_render.stores.s3_run_log import S3RunLogSettings


def _config(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_a_quoted_number_or_boolean_in_a_store_setting_is_read_as_before(tmp_path: Path) -> None:
    """pydantic's lax mode read ``"50"`` as 50 and ``"true"`` as True; config files written
    for it (and for magnus 0.5, pydantic 1) still load."""
    config = _config(
        tmp_path,
        "run_log_store:\n  type: s3\n  config:\n    bucket: abcd\n"
        '    max_conflict_retries: "7"\n'
        'experiment_tracker:\n  type: mlflow\n  config:\n    autolog: "false"\n',
    )
    store = build_settings(S3RunLogSettings, config.run_log_store.config, config, "run_log_store")
    assert store.max_conflict_retries == 7
    tracker = build_settings(
        MlflowSettings, config.experiment_tracker.config, config, "experiment_tracker"
    )
    assert tracker.autolog is False


def test_text_that_is_no_number_is_still_an_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    config = _config(
        tmp_path,
        "run_log_store:\n  type: s3\n  config:\n    bucket: abcd\n"
        '    max_conflict_retries: "many"\n    prefix: 7\n',
    )
    with pytest.raises(ConfigError) as info:
        build_settings(S3RunLogSettings, config.run_log_store.config, config, "run_log_store")
    assert str(info.value).splitlines() == [
        f"{path}:5: run_log_store.config.max_conflict_retries: expected `int`, got `str`",
        f"{path}:6: run_log_store.config.prefix: expected `str`, got `int`",  # never coerced
    ]
