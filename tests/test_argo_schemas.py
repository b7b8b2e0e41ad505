"""The Argo JSON schemas ship inside the package: ``--validate`` finds them from any
directory (an installed wheel has no ``shared/`` folder beside it), they are upstream's
files unchanged, and ``MAGNUS_ARGO_SCHEMA_DIR`` replaces them."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from magnus_render.errors import MagnusError
from magnus_render.pipeline import load_pipeline
from magnus_render.renderers.argo import ArgoRenderer
from magnus_render.renderers.argo.validate import (
    SCHEMA_ENV,
    SHIPPED_SCHEMAS,
    find_schema_files,
    schema_files_in,
)
from magnus_render.renderers.base import RenderOptions
from tests.conftest import ROOT, SAMPLES
from tests.helpers.shared_stores import ARGO_CONFIG, argo_config

IMAGE = "registry.example.com/magnus:1.0"


def renderer() -> ArgoRenderer:
    pipeline = load_pipeline(SAMPLES / "map.yaml")
    return ArgoRenderer(pipeline, argo_config(), RenderOptions("samples/map.yaml", image=IMAGE))


def with_typo(text: str) -> str:
    """A spec only the schema can reject: an unknown field, no broken reference."""
    assert "    retryStrategy:" not in text
    return text.replace("  entrypoint:", "  retryStrategyy: {limit: 2}\n  entrypoint:", 1)


def test_shipped_schemas_are_upstream_files_unchanged() -> None:
    readme = (SHIPPED_SCHEMAS / "README.md").read_text(encoding="utf-8")
    listed = dict(re.findall(r"^- (v[\d.]+): `([0-9a-f]{64})`$", readme, re.M))
    files = schema_files_in(SHIPPED_SCHEMAS)
    assert [p.name for p in files] == [f"argo-{v}.schema.json.gz" for v in sorted(listed)]
    for path in files:
        version = path.name.removeprefix("argo-").removesuffix(".schema.json.gz")
        digest = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
        assert digest == listed[version], path


def test_validate_finds_the_shipped_schemas_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no shared/ folder here or above
    monkeypatch.delenv(SCHEMA_ENV, raising=False)
    assert find_schema_files() == schema_files_in(SHIPPED_SCHEMAS)
    argo = renderer()
    text = argo.render().text
    argo.validate(text)
    assert not any("schema" in w for w in argo.warnings), argo.warnings
    with pytest.raises(MagnusError) as caught:
        argo.validate(with_typo(text))
    message = str(caught.value)
    assert "argo-v3.7.18.schema.json: spec" in message and "retryStrategyy" in message
    assert "argo-v4.1.2.schema.json: spec" in message


def test_schema_dir_overrides_the_shipped_schemas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An uncompressed upstream file in $MAGNUS_ARGO_SCHEMA_DIR is used alone, corrected."""
    folder = tmp_path / "schemas"
    folder.mkdir()
    shipped = SHIPPED_SCHEMAS / "argo-v4.1.2.schema.json.gz"
    (folder / "argo-v9.9.9.schema.json").write_bytes(gzip.decompress(shipped.read_bytes()))
    monkeypatch.setenv(SCHEMA_ENV, str(folder))
    assert find_schema_files() == [folder / "argo-v9.9.9.schema.json"]
    argo = renderer()
    text = argo.render().text
    argo.validate(text)  # IntOrString corrected: the retry backoff's integers pass
    with pytest.raises(MagnusError) as caught:
        argo.validate(with_typo(text))
    message = str(caught.value)
    assert "argo-v9.9.9.schema.json: spec" in message and "retryStrategyy" in message
    assert "argo-v4.1.2" not in message


@pytest.mark.parametrize("content", [None, b"{not json", b'{"no": "definitions"}'])
def test_a_schema_dir_without_a_usable_schema_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None
) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir()
    if content is not None:
        (folder / "argo-v1.0.0.schema.json").write_bytes(content)
    monkeypatch.setenv(SCHEMA_ENV, str(folder))
    argo = renderer()
    with pytest.raises(MagnusError) as caught:
        argo.validate(argo.render().text)
    message = str(caught.value)
    if content is None:
        assert f"{SCHEMA_ENV}={folder}" in message and "no Argo JSON schema" in message
    else:
        assert str(folder / "argo-v1.0.0.schema.json") in message


def test_cli_validate_outside_the_repository(tmp_path: Path) -> None:
    """The installed command, run where no schema folder exists, validates with the
    shipped schemas; a bad override exits 2 naming it, without a traceback."""
    env = {k: v for k, v in os.environ.items() if k != SCHEMA_ENV}
    env["PYTHONPATH"] = str(ROOT)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_bytes((SAMPLES / "hello.yaml").read_bytes())
    argv = [
        sys.executable, "-c", "from magnus_render.cli import render_main; render_main()",
        "--target", "argo", "--validate", "--image", IMAGE, str(pipeline), "-c", str(ARGO_CONFIG),
    ]  # fmt: skip
    ok = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "schema" not in ok.stderr and ok.stdout.startswith("apiVersion:")
    env[SCHEMA_ENV] = str(tmp_path / "missing")
    bad = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert f"{SCHEMA_ENV}={tmp_path / 'missing'}" in bad.stderr
    assert "Traceback" not in bad.stderr and bad.stdout == ""


def test_validate_without_jsonschema_says_what_to_install(tmp_path: Path) -> None:
    """A wheel installed without the dev extra: a clear message and exit 2, no traceback."""
    code = (
        "import sys; sys.modules['jsonschema'] = None\n"
        "from magnus_render.cli import render_main; render_main()"
    )
    argv = [sys.executable, "-c", code, "--target", "argo", "--validate", "--image", IMAGE,
            str(SAMPLES / "hello.yaml"), "-c", str(ARGO_CONFIG)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != SCHEMA_ENV}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "jsonschema is not installed: pip install" in result.stderr
    assert "Traceback" not in result.stderr
