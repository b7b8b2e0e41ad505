"""Shared test configuration: the repository root on sys.path and the `slow` marker."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _hypothesis_outside_the_repo() -> None:
    """Hypothesis keeps its example database and caches in ./.hypothesis by default; tests
    must not write into the repository, so they live in the temp dir (failures replay)."""
    try:
        import tempfile

        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:  # pragma: no cover - hypothesis is in the dev extra
        return
    set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "magnus-render-hypothesis"))


_hypothesis_outside_the_repo()


def _children_get_the_default_sigint() -> None:
    """A suite started in the background of a non-interactive shell (``pytest ... &`` in a
    script, some CI runners) inherits SIGINT ignored, and so would every process it starts:
    bash cannot trap a signal ignored on entry and Python keeps it ignored, so the tests
    that send SIGINT would wait for a reaction that cannot come. A handler, unlike
    SIG_IGN, is reset to the default in an exec'd child."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_children_get_the_default_sigint()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _compiled_pipeline_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Container commands cache compiled pipelines (magnus_render/pipeline/compiled.py);
    tests keep that cache in their temp dir, never in the user's ~/.cache. Subprocesses
    inherit the variable."""
    import os

    folder = tmp_path_factory.mktemp("magnus-pipeline-cache")
    folder.chmod(0o700)
    os.environ["MAGNUS_PIPELINE_CACHE_DIR"] = str(folder)


@pytest.fixture(autouse=True)
def _repository_samples_package() -> Iterator[None]:
    """Tests that run a pipeline in-process from a copy of ``samples/`` in a temp folder
    import that copy as ``samples``; a later test importing ``samples.sdk`` from the
    repository would then find the copy. Forget any ``samples`` module not from here."""
    yield
    root = sys.modules.get("samples")
    if root is None or (getattr(root, "__file__", None) or "").startswith(str(SAMPLES)):
        return  # the repository's own package (its submodules load from it too)
    for name in [n for n in sys.modules if n == "samples" or n.startswith("samples.")]:
        del sys.modules[name]
