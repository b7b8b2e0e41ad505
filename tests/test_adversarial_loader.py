"""Hundreds of malformed pipelines and configs, loaded in-process: each must be refused with
a PipelineError/ConfigError whose every diagnostic names the file and a line, and one of
them the exact line the case broke. Known front-end defects are xfail(strict) with why."""

from __future__ import annotations

from pathlib import Path

import pytest

from magnus_render.config import load_config
from magnus_render.errors import ConfigError, MagnusError, PipelineError
from magnus_render.pipeline.build import load_pipeline, load_pipeline_text
from tests.adversarial.cases import (
    BASE_CONFIG,
    BASE_PIPELINE,
    HERE,
    Case,
    Doc,
    all_config_cases,
    all_pipeline_cases,
)

PIPELINE_CASES = all_pipeline_cases()
CONFIG_CASES = all_config_cases()
HAND_WRITTEN = {p.name for p in (HERE / "pipelines").glob("*.yaml")}


def _params(cases: list[Case]) -> list[object]:
    params = []
    for case in cases:
        marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
        params.append(pytest.param(case, marks=marks, id=case.name[:80]))
    return params


def assert_located(err: MagnusError, file: str, case: Case) -> None:
    """Every diagnostic names ``file`` and a line; one names the case's line."""
    lines = [d.line for d in err.diagnostics]
    assert all(d.file == file for d in err.diagnostics), err.diagnostics
    assert None not in lines, f"a diagnostic without a line: {err}"
    assert case.line in lines, f"expected line {case.line}, got {lines}: {err}"
    assert case.contains.lower() in str(err).lower(), str(err)
    for text, diag in zip(str(err).splitlines(), err.diagnostics, strict=False):
        assert text.startswith(f"{file}:{diag.line}: "), text


def test_corpus_is_large_enough() -> None:
    # the issue asks for at least 200 malformed documents, generated and hand-written
    assert len(PIPELINE_CASES) + len(CONFIG_CASES) >= 200
    assert len(HAND_WRITTEN) >= 40
    assert len({c.name for c in PIPELINE_CASES}) == len(PIPELINE_CASES), "duplicate case names"


def test_base_documents_are_valid(tmp_path: Path) -> None:
    """The mutations start from valid documents, so each error comes from its mutation."""
    pipeline = load_pipeline_text(Doc(BASE_PIPELINE).text(), "base.yaml")
    assert {"first", "shell", "par", "each"} <= set(pipeline.graph.nodes)
    path = tmp_path / "config.yaml"
    path.write_text(Doc(BASE_CONFIG).text(), encoding="utf-8")
    assert load_config(path).executor.type == "local"


@pytest.mark.parametrize("case", _params(PIPELINE_CASES))
def test_malformed_pipeline_is_refused_with_its_line(case: Case) -> None:
    if case.name in HAND_WRITTEN:
        path = HERE / "pipelines" / case.name
        with pytest.raises(PipelineError) as info:
            load_pipeline(path)
        assert_located(info.value, str(path), case)
    else:
        with pytest.raises(PipelineError) as info:
            load_pipeline_text(case.text, "adversarial.yaml")
        assert_located(info.value, "adversarial.yaml", case)


@pytest.mark.parametrize("case", _params(CONFIG_CASES))
def test_malformed_config_is_refused_with_its_line(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "magnus-config.yaml"
    path.write_text(case.text, encoding="utf-8", newline="")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert_located(info.value, str(path), case)
