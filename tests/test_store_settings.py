"""The settings a container reads (config file, stores, catalog, secrets, tracker) are
msgspec Structs, not pydantic models (issue 18): their errors keep the one wording,
``file:line: <section>.config.<key path>: <what is wrong>``, and a plugin store found
through its entry point still loads now that ``importlib.metadata`` is imported lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from magnus_render.config import load_config
from magnus_render.errors import ConfigError
from magnus_render.stores.run_log_base import StoreSettings, build_settings

ROOT = Path(__file__).resolve().parent.parent
STUB = """\
dag:
  start_at: s0
  steps:
    s0: {type: stub, next: success}
    success: {type: success}
    fail: {type: fail}
"""


def _python(cwd: Path, *argv: str, path: str = "") -> subprocess.CompletedProcess[str]:
    """A fresh interpreter: no MAGNUS_* or AWS variable, only this checkout (and ``path``)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT}:{path}" if path else str(ROOT)}
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _node(tmp_path: Path, config: str) -> subprocess.CompletedProcess[str]:
    """`magnus execute_single_node` of a stub step with ``config`` as its config file."""
    (tmp_path / "p.yaml").write_text(STUB, encoding="utf-8")
    (tmp_path / "c.yaml").write_text(config, encoding="utf-8")
    argv = ["execute_single_node", "r1", "s0", "--file", "p.yaml", "--config-file", "c.yaml"]
    return _python(tmp_path, "-m", "magnus_render.cli", *argv)


def _assert_bad_input(done: subprocess.CompletedProcess[str], *lines: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for line in lines:
        assert line in done.stderr, done.stderr


def test_a_store_setting_of_the_wrong_type_names_file_line_and_key(tmp_path: Path) -> None:
    done = _node(
        tmp_path, "# stores\nrun_log_store:\n  type: file-system\n  config:\n    log_folder: 3\n"
    )
    _assert_bad_input(
        done, "error: c.yaml:5: run_log_store.config.log_folder: expected `str`, got `int`\n"
    )
    assert not (tmp_path / ".run_log_store").exists()  # nothing written before the check


def test_an_unknown_store_setting_names_file_line_and_key(tmp_path: Path) -> None:
    config = "catalog:\n  type: file-system\n  config:\n    catalog_location: x\n"
    config += "    catalog_locaton: y\n"
    done = _node(tmp_path, config)
    _assert_bad_input(done, "error: c.yaml:5: catalog.config.catalog_locaton: unknown setting\n")


def test_every_problem_of_a_section_is_listed_each_at_its_line(tmp_path: Path) -> None:
    """msgspec stops at the first error; the section is checked again key by key."""
    path = tmp_path / "c.yaml"
    path.write_text(
        "run_log_store:\n  type: s3\n  config:\n    prefix: 7\n    bukket: b\n"
        "    max_conflict_retries: 0\n",
        encoding="utf-8",
    )
    config = load_config(path)
    from magnus_render.stores.s3_run_log import S3RunLogSettings

    with pytest.raises(ConfigError) as info:
        build_settings(S3RunLogSettings, config.run_log_store.config, config, "run_log_store")
    assert str(info.value).splitlines() == [  # in the file's order
        f"{path}:3: run_log_store.config.bucket: field required",
        f"{path}:4: run_log_store.config.prefix: expected `str`, got `int`",
        f"{path}:5: run_log_store.config.bukket: unknown setting",
        f"{path}:6: run_log_store.config.max_conflict_retries: expected `int` >= 1",
    ]


class _Inner(msgspec.Struct, forbid_unknown_fields=True):
    sizes: list[int] = []


class _Nested(StoreSettings):
    inner: _Inner = msgspec.field(default_factory=_Inner)


def test_a_nested_error_is_at_the_deepest_key_with_its_key_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "secrets:\n  type: env\n  config:\n    inner:\n      sizes:\n        - 1\n        - two\n"
        "      colour: red\n",
        encoding="utf-8",
    )
    config = load_config(path)
    with pytest.raises(ConfigError) as info:
        build_settings(_Nested, config.secrets.config, config, "secrets")
    assert sorted(str(info.value).splitlines()) == [
        f"{path}:5: secrets.config.inner.sizes.1: expected `int`, got `str`",
        f"{path}:8: secrets.config.inner.colour: unknown setting",
    ]


def test_config_file_errors_keep_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "executor:\n  type: local\nexecutors:\n  type: x\ncatalog:\n  config: {a: 1}\n"
        "secrets:\n  type: 7\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert sorted(str(info.value).splitlines()) == [
        f"{path}:3: executors: unknown section or field",
        f"{path}:6: catalog.type: field required",
        f"{path}:8: secrets.type: expected `str`, got `int`",
    ]


def test_config_defaults_and_the_defaults_wrapper(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("defaults:\n  catalog:\n    type: do-nothing\n", encoding="utf-8")
    config = load_config(path)
    assert config.catalog.type == "do-nothing" and config.catalog.config == {}
    assert (config.executor.type, config.run_log_store.type) == ("local", "file-system")
    assert (config.secrets.type, config.experiment_tracker.type) == ("env", "do-nothing")
    assert config.line_of("catalog") == 2 and config.source_file == str(path)
    dumped = config.model_dump()
    dumped["catalog"]["config"]["x"] = 1  # a copy: the config is unchanged
    assert config.catalog.config == {}


def test_the_config_file_and_tracker_settings_import_no_pydantic(tmp_path: Path) -> None:
    """Reading the config file and checking a section's settings do not load pydantic
    (once the run log models leave it too, a container never does: issue 18)."""
    probe = (
        "import sys\n"
        "from magnus_render.config import load_config\n"
        "from magnus_render.settings import convert_settings\n"
        "from magnus_render.runtime.tracking import MlflowSettings\n"
        "config = load_config('c.yaml')\n"
        "raw = config.experiment_tracker.config\n"
        "convert_settings(MlflowSettings, raw, config, 'experiment_tracker')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))\n"
    )
    (tmp_path / "c.yaml").write_text(
        "experiment_tracker:\n  type: mlflow\n  config: {experiment_name: e}\n"
    )
    done = _python(tmp_path, "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


PLUGIN = """\
import pathlib

from magnus_render.stores.run_log_fs import FileSystemRunLogStore, FileSystemSettings


class MarkedSettings(FileSystemSettings):
    marker: str = "used.txt"


class MarkedStore(FileSystemRunLogStore):
    settings_model = MarkedSettings

    def setup(self):
        super().setup()
        pathlib.Path(self.settings.marker).write_text("plugin store")
"""


def _plugin(root: Path) -> Path:
    root.mkdir()
    (root / "marked_store.py").write_text(PLUGIN, encoding="utf-8")
    info = root / "marked_store-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: marked-store\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[magnus_render.run_log_stores]\nmarked = marked_store:MarkedStore\n", encoding="utf-8"
    )
    return root


def test_a_plugin_store_registered_by_entry_point_still_loads(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path / "site")
    work = tmp_path / "work"
    work.mkdir()
    (work / "p.yaml").write_text(STUB, encoding="utf-8")
    (work / "c.yaml").write_text(
        "run_log_store:\n  type: marked\n  config: {marker: here.txt, log_folder: logs}\n"
    )
    argv = ["-m", "magnus_render.cli", "execute_single_node", "r1", "s0", "-f", "p.yaml"]
    done = _python(work, *argv, "--config-file", "c.yaml", path=str(plugin))
    assert done.returncode == 0, done.stderr
    assert (work / "here.txt").read_text() == "plugin store"
    assert (work / "logs" / "r1.jsonl").is_file()
    # and its settings are checked like a built-in's
    (work / "c.yaml").write_text("run_log_store:\n  type: marked\n  config: {markr: x}\n")
    done = _python(work, *argv, "--config-file", "c.yaml", path=str(plugin))
    _assert_bad_input(done, "error: c.yaml:3: run_log_store.config.markr: unknown setting\n")


def test_a_plugin_with_pydantic_settings_is_still_validated_by_pydantic(tmp_path: Path) -> None:
    """A plugin written when StoreSettings was a pydantic model keeps working."""
    from pydantic import BaseModel, ConfigDict

    class Old(BaseModel):
        model_config = ConfigDict(extra="forbid")
        depth: int = 1

    path = tmp_path / "c.yaml"
    path.write_text("secrets:\n  type: x\n  config:\n    depth: deep\n", encoding="utf-8")
    config = load_config(path)
    with pytest.raises(ConfigError, match=rf"^{path}:4: secrets\.config\.depth: input should"):
        build_settings(Old, config.secrets.config, config, "secrets")
    assert build_settings(Old, {"depth": 3}, config, "secrets").depth == 3


def test_a_built_in_name_does_not_import_importlib_metadata(tmp_path: Path) -> None:
    """Entry points are read only for a name that is not built in (it costs ~8 ms)."""
    probe = (
        "import sys\n"
        "from magnus_render.registry import lookup\n"
        "found = lookup({'json': 'json:JSONDecoder'}, 'no.group', 'json', 'catalog', object)\n"
        "print(found.__name__, 'importlib.metadata' in sys.modules)\n"
    )
    done = _python(tmp_path, "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "JSONDecoder False"
