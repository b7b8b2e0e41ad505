"""magnus_render.plugin: the one module plugins import from.

Every name it promises resolves, its entry point groups are the ones the registries read,
importing it stays cheap (names resolve on use), and the example plugin under
examples/plugins/ imports nothing else from magnus_render.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import magnus_render.plugin as api
from magnus_render import renderers, stores
from magnus_render.runtime import executors

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "plugins"


def test_every_public_name_resolves() -> None:
    assert len(api.__all__) == len(set(api.__all__))
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert sorted(dir(api)) == sorted(api.__all__)


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        api.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_entry_point_groups_are_the_ones_read() -> None:
    assert api.TARGETS_GROUP == renderers.ENTRY_POINT_GROUP
    assert api.EXECUTORS_GROUP == executors.ENTRY_POINT_GROUP
    assert stores.GROUPS["run_log_store"][0] == api.RUN_LOG_STORES_GROUP
    assert stores.GROUPS["catalog"][0] == api.CATALOGS_GROUP
    assert stores.GROUPS["secrets"][0] == api.SECRETS_GROUP


def test_importing_the_api_loads_no_backend() -> None:
    code = (
        "import sys, magnus_render.plugin\n"
        "heavy = [m for m in ('jinja2', 'rich', 'boto3', 'kubernetes', "
        "'magnus_render.renderers.base', 'magnus_render.runtime.executors.base') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def test_example_plugins_import_only_the_public_api() -> None:
    sources = sorted(EXAMPLES.glob("*/*/*.py"))
    sources = [p for p in sources if p.parent.name != "tests"]
    assert sources, "no example plugin found"
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                if module.split(".")[0] == "magnus_render":
                    assert module == "magnus_render.plugin", f"{path}: imports {module}"


def test_the_extension_guide_documents_every_public_name() -> None:
    guide = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    missing = [name for name in api.__all__ if f"`{name}`" not in guide]
    assert missing == [], f"docs/extending.md does not mention: {missing}"
