"""Hypothesis fuzzing of the loader: any text gives a Pipeline or a PipelineError naming
the file, never another exception. Derandomized so CI is repeatable; `--runslow` adds a
longer random run."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magnus_render.config import load_config
from magnus_render.errors import ConfigError, PipelineError
from magnus_render.pipeline.build import load_pipeline_text
from magnus_render.pipeline.loaded import Pipeline
from tests.adversarial.cases import BASE_PIPELINE, Doc

BASE_TEXT = Doc(BASE_PIPELINE).text()
FIELDS = [
    "dag", "start_at", "steps", "type", "command", "command_type", "next", "on_failure",
    "catalog", "get", "put", "max_attempts", "overrides", "branches", "branch", "iterate_on",
    "iterate_as", "dag_definition", "description", "task", "stub", "success", "fail",
    "parallel", "map", "as-is", "shell", "python", "a", "b", "<<",
]  # fmt: skip
SNIPPETS = [
    ":", "- ", "{", "}", "[", "]", "&a ", "*a", "!!str ", "!!int ", "!!python/object ", "\t",
    "\n", "  ", "? ", "---\n", "'", '"', "#", "|", ">", "%", "~", "null", "1e9", "<<: ",
]  # fmt: skip

FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SLOW = settings(max_examples=3000, deadline=None, database=None)


def check(text: str) -> None:
    """The property: a Pipeline, or a PipelineError whose diagnostics all name the file."""
    try:
        result = load_pipeline_text(text, "fuzz.yaml")
    except PipelineError as err:
        assert err.diagnostics
        assert all(d.file == "fuzz.yaml" for d in err.diagnostics), err.diagnostics
        assert str(err).startswith("fuzz.yaml")
    else:
        assert isinstance(result, Pipeline)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(FIELDS),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), scalars), inner, max_size=5),
    ),
    max_leaves=30,
)


def _structured(data: Any) -> str:
    return yaml.safe_dump({"dag": data}, allow_unicode=True)


@st.composite
def mutated_base(draw: st.DrawFn) -> str:
    """The valid base pipeline with a few random cuts, insertions and replacements."""
    text = BASE_TEXT
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace_word"]))
        if action == "insert":
            piece = draw(st.one_of(st.sampled_from(SNIPPETS + FIELDS), st.text(max_size=5)))
            text = text[:pos] + piece + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 30)) :]
        else:
            end = pos + draw(st.integers(1, 12))
            text = text[:pos] + draw(st.sampled_from(FIELDS + SNIPPETS)) + text[end:]
    return text


@FAST
@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    check(text)


@FAST
@given(values)
def test_any_structure_under_dag(data: Any) -> None:
    check(_structured(data))


@FAST
@given(mutated_base())
def test_mutated_valid_pipeline(text: str) -> None:
    check(text)


CONFIG_KEYS = ["executor", "run_log_store", "catalog", "secrets", "experiment_tracker"]
config_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from([*CONFIG_KEYS, "type", "config", "defaults", "log_folder"]),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=15,
)


@FAST
@given(st.one_of(st.text(max_size=200), config_values.map(yaml.safe_dump)))
def test_any_config_text(text: str) -> None:
    """load_config: a MagnusConfig or a ConfigError naming the file, nothing else."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_config(path)
        except ConfigError as err:
            assert all(d.file == str(path) for d in err.diagnostics), err.diagnostics


def test_property_detects_a_foreign_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """The property itself can fail: an exception other than PipelineError escapes it."""
    import tests.test_adversarial_fuzz as me

    def boom(text: str, file: str) -> Pipeline:
        raise KeyError(text)

    monkeypatch.setattr(me, "load_pipeline_text", boom)
    with pytest.raises(KeyError):
        check("dag: {}")


@pytest.mark.slow
@SLOW
@given(st.one_of(st.text(max_size=2000), values.map(_structured), mutated_base()))
def test_fuzz_long_random_run(text: str) -> None:
    check(text)
