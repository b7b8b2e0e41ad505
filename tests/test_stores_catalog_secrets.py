"""Catalog (namespaces, hashes, escaping globs, copy for re-runs) and secrets backends."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from magnus_render.config import load_config
from magnus_render.errors import ConfigError, MagnusError
from magnus_render.runtime.context import build_services
from magnus_render.stores.catalog_base import CatalogError
from magnus_render.stores.catalog_fs import FileSystemCatalog
from magnus_render.stores.secrets import DotEnvSecrets, EnvSecrets, SecretNotFound, parse_dotenv
from tests.helpers.runlog import execute_in_process, prepare_workdir


def catalog(tmp_path: Path) -> FileSystemCatalog:
    return FileSystemCatalog(
        {"catalog_location": str(tmp_path / "cat"), "compute_data_folder": str(tmp_path / "data")}
    )


def test_put_get_with_hashes_and_iteration_namespaces(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("root")
    (data / "sub" / "b.txt").write_text("deep")
    entries = cat.put("run", "*.txt", ())
    assert [(e.name, e.stage) for e in entries] == [("a.txt", "put")]
    assert entries[0].data_hash == hashlib.sha256(b"root").hexdigest()
    assert [e.name for e in cat.put("run", "sub/*.txt", ())] == ["sub/b.txt"]
    (data / "a.txt").write_text("iteration x")
    cat.put("run", "a.txt", ("i=x",))
    (data / "a.txt").unlink()
    # an iteration sees its own entry first, others fall back to the run's root
    assert [e.data_hash for e in cat.get("run", "a.txt", ("i=x",))] == [
        hashlib.sha256(b"iteration x").hexdigest()
    ]
    assert (data / "a.txt").read_text() == "iteration x"
    assert cat.get("run", "a.txt", ("i=y",))[0].catalog_relative_path == "run/a.txt"
    assert (data / "a.txt").read_text() == "root"
    fetched = {e.name: e.data_hash for e in cat.get("run", "*.txt", ())}
    assert cat.put("run", "*.txt", (), fetched) == []  # just fetched, unchanged: not put back


@pytest.mark.parametrize("glob", ["../x", "/etc/passwd", "a/../../x", "~/x"])
def test_globs_escaping_the_data_folder_are_refused(tmp_path: Path, glob: str) -> None:
    with pytest.raises(CatalogError, match="escapes the data folder"):
        catalog(tmp_path).put("run", glob, ())
    with pytest.raises(CatalogError):
        catalog(tmp_path).get("run", glob, ())


def test_symlink_out_of_data_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "outside.txt").write_text("secret")
    (tmp_path / "data" / "link.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(CatalogError, match="outside"):
        catalog(tmp_path).put("run", "*.txt", ())


def test_copy_run_and_objects(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    cat.put_object("old", ("i=1",), "obj.json", b"{}")
    cat.copy_run("old", "new")
    assert cat.get_object("new", ("i=1",), "obj.json") == b"{}"
    with pytest.raises(CatalogError):
        cat.get_object("new", (), "obj.json")


def test_env_and_dotenv_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_TOKEN_X", "s3cr3t")
    assert EnvSecrets({"prefix": "APP_", "suffix": "_X"}).get("TOKEN") == "s3cr3t"
    with pytest.raises(SecretNotFound, match="APP_OTHER_X"):
        EnvSecrets({"prefix": "APP_", "suffix": "_X"}).get("OTHER")
    env = tmp_path / "my.env"
    env.write_text("# comment\nexport A=1\nB='two words'\nC=\"q\" \nD=x # note\n")
    secrets = DotEnvSecrets({"location": str(env)})
    assert [secrets.get(k) for k in "ABCD"] == ["1", "two words", "q", "x"]
    with pytest.raises(MagnusError, match=r"my\.env:2"):
        parse_dotenv("A=1\nnot a line\n", str(env))


def test_unknown_backend_and_setting_name_the_config_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("run_log_store:\n  type: nosuch\n")
    with pytest.raises(ConfigError, match=r"c.yaml:1.*chunked-fs"):
        build_services(load_config(cfg))
    cfg.write_text("catalog:\n  type: file-system\n  config:\n    bogus: 1\n")
    with pytest.raises(ConfigError, match=r"c.yaml:4.*bogus"):
        build_services(load_config(cfg))


SECRET_PIPELINE = """
dag:
  start_at: use
  steps:
    use: {type: task, command: t_secret.use, next: success}
    success: {type: success}
    fail: {type: fail}
"""
SECRET_TASK = """
from magnus_render import get_secret

def use():
    token = get_secret("TOKEN")
    assert token == "hunter2-value"
    return {"token_length": len(token)}
"""


def test_secret_value_never_reaches_the_run_log(tmp_path: Path) -> None:
    work = prepare_workdir(tmp_path)
    (work / "t_secret.py").write_text(SECRET_TASK)
    (work / "p.yaml").write_text(SECRET_PIPELINE)
    (work / ".env").write_text("TOKEN=hunter2-value\n")
    code, log = execute_in_process("p.yaml", work, "s", "secrets:\n  type: dotenv\n")
    assert code == 0 and log.parameters == {"token_length": 13}
    stored = b"".join(p.read_bytes() for p in (work / ".run_log_store").rglob("*") if p.is_file())
    assert b"hunter2" not in stored
