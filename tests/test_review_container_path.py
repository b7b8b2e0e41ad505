"""Review of the container-path move to msgspec (issue 18): what the settings, config and
plugin API of the previous release accepted and meant is kept, or refused clearly."""

from __future__ import annotations

import enum
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest

from magnus_render.config import load_config
from magnus_render.errors import ConfigError
from magnus_render.runtime.tracking import MlflowSettings
from magnus_render.stores.run_log_base import StoreSettings, build_settings
from magnus_render.stores.s3_run_log import S3RunLogSettings
from tests.helpers.pipelines import STUB


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


def test_a_plugin_store_settings_subclass_with_pydantic_fields_is_refused_clearly(
    tmp_path: Path,
) -> None:
    """Before issue 18 StoreSettings was a pydantic model, so a plugin's subclass could use
    ``Field(2, ge=1)`` and validators; on a Struct the FieldInfo would be the value."""
    from pydantic import Field, field_validator

    class PoolSettings(StoreSettings):
        workers: int = Field(2, ge=1)  # type: ignore[assignment]
        name: str = "pool"

        @field_validator("name")
        @classmethod
        def _named(cls, value: str) -> str:
            return value

    path = tmp_path / "c.yaml"
    config = _config(tmp_path, "secrets:\n  type: pool\n  config:\n    workers: 3\n")
    with pytest.raises(ConfigError) as info:
        build_settings(PoolSettings, config.secrets.config, config, "secrets")
    message = str(info.value)
    assert message.startswith(f"{path}:3: secrets: the settings model ")
    assert "PoolSettings is a msgspec Struct" in message
    assert "the pydantic default of 'workers', the validator '_named' would be" in message


def test_built_in_settings_models_hold_nothing_of_pydantic() -> None:
    from magnus_render.stores import catalog_fs, run_log_chunked, run_log_fs, secrets
    from magnus_render.stores.run_log_base import pydantic_leftovers

    for model in (
        S3RunLogSettings,
        MlflowSettings,
        catalog_fs.FileSystemCatalogSettings,
        run_log_chunked.ChunkedFsSettings,
        run_log_fs.FileSystemSettings,
        secrets.EnvSettings,
        secrets.DotEnvSettings,
    ):
        assert pydantic_leftovers(model) == ""


def test_run_log_corrupt_is_part_of_the_plugin_api() -> None:
    """A plugin store decoding its own objects raises the error the runtime turns into a
    failed step (and `magnus show` into exit 2)."""
    from magnus_render import plugin
    from magnus_render.stores.log_codec import RunLogCorrupt

    assert plugin.RunLogCorrupt is RunLogCorrupt
    assert "RunLogCorrupt" in plugin.__all__


def test_a_key_that_is_not_text_is_named_at_its_line(tmp_path: Path) -> None:
    """YAML reads ``1:``, ``null:`` or ``yes:`` as a number, null or boolean; msgspec does not
    name such a key (``$[...]``), pydantic did: the key and its own line are kept."""
    path = tmp_path / "c.yaml"
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, "run_log_store:\n  type: s3\n  config:\n    bucket: abcd\n    1: x\n")
    assert str(info.value) == (
        f"{path}:5: run_log_store.config.1: a key must be text (quote it), not int"
    )


def test_a_type_error_names_the_yaml_kinds_mapping_and_list(tmp_path: Path) -> None:
    """msgspec speaks JSON (``object``, ``array``); a config file is YAML."""
    path = tmp_path / "c.yaml"
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, "run_log_store:\n  - type: s3\ncatalog:\n  type: x\n  config: [a]\n")
    assert str(info.value).splitlines() == [
        f"{path}:1: run_log_store: expected `mapping`, got `list`",
        f"{path}:5: catalog.config: expected `mapping`, got `list`",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "defaults:\n  run_log_store:\n    type: file-system\nextra: 1\n",
        "defaults:\n",
        "defaults: [run_log_store]\n",
    ],
)
def test_a_misused_defaults_wrapper_says_what_the_wrapper_must_be(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "c.yaml"
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, text)
    assert str(info.value) == (
        f"{path}:1: defaults: magnus 0.5's `defaults:` wrapper must be the file's only key "
        "and hold a mapping of sections"
    )


def test_magnus_compile_checks_the_settings_every_container_reads(tmp_path: Path) -> None:
    """docs/containers.md: `magnus compile --config-file` fails the image build on a bad
    config rather than every pod; a typo in a store's settings is such a config (it only
    checked the section types). A backend's own files (.env) are the pod's: not checked."""
    (tmp_path / "p.yaml").write_text(STUB, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        "run_log_store:\n  type: file-system\n  config:\n    log_foldr: x\n"
        "catalog:\n  type: file-system\n  config:\n    compute_data_folder: 3\n"
        "experiment_tracker:\n  type: do-nothing\n  config: {a: 1}\n",
        encoding="utf-8",
    )
    (tmp_path / "ok.yaml").write_text(
        "secrets:\n  type: dotenv\n  config:\n    location: /nowhere/.env\n", encoding="utf-8"
    )
    env = {"PATH": "/usr/bin:/bin", "MAGNUS_PIPELINE_CACHE_DIR": str(tmp_path / "cache")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    argv = [sys.executable, "-m", "magnus_render.cli", "compile", "-f", "p.yaml", "-c"]
    done = subprocess.run([*argv, "c.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "error:\n"
        "c.yaml:4: run_log_store.config.log_foldr: unknown setting\n"
        "c.yaml:8: catalog.config.compute_data_folder: expected `str`, got `int`\n"
        "c.yaml:9: experiment_tracker: do-nothing takes no config\n"
    )
    assert not (tmp_path / "cache").exists()
    done = subprocess.run([*argv, "ok.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


class _Mode(enum.Enum):
    FAST = "fast"
    SAFE = "safe"


class _VaultSettings(StoreSettings):
    """A plugin's settings (msgspec resolves its annotations in this module)."""

    auth: Literal["token", "approle"] = "token"
    mode: _Mode = _Mode.SAFE


def test_a_value_outside_a_plugin_settings_literal_is_not_echoed(tmp_path: Path) -> None:
    """msgspec's message quotes the value (``Invalid enum value 'hunter2'``): a value typed
    into the wrong key may be a secret. The choices are named instead, as pydantic did."""
    path = tmp_path / "c.yaml"
    config = _config(
        tmp_path, "secrets:\n  type: vault\n  config:\n    auth: s3cr3t-t0ken\n    mode: s3cr3t\n"
    )
    with pytest.raises(ConfigError) as info:
        build_settings(_VaultSettings, config.secrets.config, config, "secrets")
    assert str(info.value).splitlines() == [
        f"{path}:4: secrets.config.auth: not one of the allowed values: 'token', 'approle'",
        f"{path}:5: secrets.config.mode: not one of the allowed values: 'fast', 'safe'",
    ]


def test_magnus_runs_lists_a_run_whose_header_is_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand-edited header reads as RunLogCorrupt now (it was a traceback); `magnus runs`
    must not silently leave that run out of the list."""
    from magnus_render.runtime.show import list_runs

    monkeypatch.chdir(tmp_path)
    for run_id, header in (("good", '{"run_id": "good"}'), ("bad", '{"run_id": 5}')):
        (tmp_path / "logs" / run_id).mkdir(parents=True)
        (tmp_path / "logs" / run_id / "run.json").write_text(header, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        "run_log_store:\n  type: chunked-fs\n  config:\n    log_folder: logs\n", encoding="utf-8"
    )
    assert list_runs("c.yaml") == 0
    assert sorted(capsys.readouterr().out.splitlines()) == [
        "bad  UNREADABLE (magnus show bad says why)",
        "good  PROCESSING",
    ]
