"""The one YAML writer (``magnus_render.yamltext``): every style reads back as exactly the
same data, floats stay floats, infinity and NaN are refused naming where they are, the
manifest style is PyYAML's own text (so Kubernetes manifests kept their bytes), and the
same data gives the same bytes in every process."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magnus_render.renderers.stepfunctions.jsontext import dumps as json_dumps
from magnus_render.yamltext import (
    MANIFEST,
    SOURCE,
    STRICT,
    NonFiniteNumber,
    Style,
    dump,
    dump_all,
    scalar,
)
from tests.conftest import ROOT

STYLES = {"strict": STRICT, "manifest": MANIFEST, "source": SOURCE}

#: characters that make YAML scalars interesting: indicators, quotes, blanks, breaks
ALPHABET = st.sampled_from(
    [*"ab -:#'\"\n{}[],&*!|>%@`?\\\t/.019eE+_~yYnNtT\r\x00\x85\u2028\ufeff\xa0é€", "\U0001f600"]
)
LOOKALIKES = [
    *("yes", "No", "ON", "off", "y", "true", "False", "null", "~", "", " ", "=", "<<"),
    *("1", "-1", "1.0", "-0.0", "1e3", "1e+20", "0x1F", "0o17", "0b101", "1_000", "1:20"),
    *(".inf", "-.inf", ".nan", "2024-01-01", "2024-01-01T10:00:00Z", "2001-12-14 21:59:43"),
    *("-", "- a", "-c", "--file", "a: b", "a #b", "#c", "{{workflow.name}}", "{a}", "[x]"),
    *("&ref", "*alias", "!tag", "%x", "@x", "`x", "|", ">", "? q", ": x", "a\nb", "a\n"),
    *("a\n\n", "\n", " lead\nx", "trail \nx", "x\n\ty", "\n\nx\n"),
]
TEXT = st.text(ALPHABET, max_size=14) | st.sampled_from(LOOKALIKES)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
SCALARS = TEXT | st.integers(-(2**70), 2**70) | st.booleans() | st.none() | FLOATS
DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=20,
)


def _same(a: object, b: object) -> bool:
    """Equal, and floats have the same sign too (-0.0 stays -0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("style", STYLES.values(), ids=list(STYLES))
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.dictionaries(TEXT, DATA, max_size=5))
def test_every_style_reads_back_as_the_same_data(style: Style, data: dict) -> None:
    text = dump(data, style)
    assert _same(yaml.safe_load(text), data), text
    assert dump(data, style) == text


@pytest.mark.parametrize("style", STYLES.values(), ids=list(STYLES))
@pytest.mark.parametrize(
    ("value", "text"),
    [(1e20, "1.0e+20"), (1e-05, "1.0e-05"), (1.0, "1.0"), (-0.0, "-0.0"), (0.1, "0.1")],
)
def test_floats_are_written_as_floats(style: Style, value: float, text: str) -> None:
    assert scalar(value, style) == text
    back = yaml.safe_load(dump({"x": value}, style))["x"]
    assert isinstance(back, float) and _same(back, value)


@pytest.mark.parametrize("style", STYLES.values(), ids=list(STYLES))
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_infinity_and_nan_are_refused_naming_where(style: Style, bad: float) -> None:
    data = {"spec": {"templates": [{"name": "a"}, {"retry": {"factor": bad}}]}}
    with pytest.raises(NonFiniteNumber) as caught:
        dump(data, style)
    assert caught.value.path == "spec.templates[1].retry.factor"
    assert "spec.templates[1].retry.factor" in str(caught.value)
    assert "not a finite number" in str(caught.value)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_step_functions_json_refuses_infinity_and_nan(bad: float) -> None:
    with pytest.raises(NonFiniteNumber) as caught:
        json_dumps({"States": {"a": {"Retry": [{"BackoffRate": bad}]}}})
    assert caught.value.path == "States.a.Retry[0].BackoffRate"
    assert json_dumps({"x": 1e20, "y": -0.0, "z": 2.5}) == '{"x": 1.0e+20, "y": -0.0, "z": 2.5}\n'


@pytest.mark.parametrize("style", STYLES.values(), ids=list(STYLES))
@pytest.mark.parametrize("text", LOOKALIKES)
def test_strings_that_look_like_other_things_stay_strings(style: Style, text: str) -> None:
    assert yaml.safe_load(dump({text: text}, style)) == {text: text}


def test_strict_quoting_keeps_only_simple_words_plain() -> None:
    assert scalar("step-1.Succeeded") == "step-1.Succeeded"
    assert scalar("/tmp/magnus-items.json") == "/tmp/magnus-items.json"
    for text in ("yes", "True", "null", "1", "{{item}}", "a b", "", "-c", "2024-01-01"):
        assert scalar(text).startswith('"'), text


def test_manifest_and_source_quote_only_what_needs_it() -> None:
    for style in (MANIFEST, SOURCE):
        assert scalar("--file", style) == "--file"  # a leading '-' alone is plain
        assert scalar("registry.example.com/magnus:1.0", style) == "registry.example.com/magnus:1.0"
        assert scalar("yes", style) == "'yes'"
        assert scalar("2024-01-01", style) == "'2024-01-01'"
        assert scalar("{{x}}", style) == "'{{x}}'"
        assert scalar("- a", style) == "'- a'"
        assert scalar("it's", style) == "it's"
        assert scalar("'q'", style) == "'''q'''"


def test_line_breaks_and_invisible_characters_are_escaped_or_blocks() -> None:
    text = "a\u2028b\x85c\ufeffd\ne"
    for style in STYLES.values():
        written = scalar(text, style)
        assert "\u2028" not in written and "\x85" not in written and "\ufeff" not in written
        assert yaml.safe_load(written) == text
    assert dump({"run": "echo a\necho b\n"}, MANIFEST) == "run: |\n  echo a\n  echo b\n"
    assert dump({"run": "a\nb"}, SOURCE) == "run: |-\n  a\n  b\n"
    assert dump({"run": " a\n\n"}, MANIFEST) == "run: |2+\n   a\n\n...\n"
    assert dump({"run": "tab\n\there"}, MANIFEST) == 'run: "tab\\n\\there"\n'


def test_unicode_is_ascii_escaped_in_manifests_and_kept_in_pipeline_files() -> None:
    data = {"name": "café €5 日本 \U0001f600"}
    manifest = dump(data, MANIFEST)
    assert manifest.isascii() and yaml.safe_load(manifest) == data
    source = dump(data, SOURCE)
    assert "café €5 日本" in source and yaml.safe_load(source) == data


def test_layout_nested_lists_empty_containers_and_documents() -> None:
    data = {"a": [[1, [2]], {"b": []}, {}], "c": {}}
    assert dump(data) == "a:\n- - 1\n  - - 2\n- b: []\n- {}\nc: {}\n"
    assert dump({"b": 1, "a": 2}, MANIFEST) == "a: 2\nb: 1\n"
    assert dump({"b": 1, "a": 2}, SOURCE) == "b: 1\na: 2\n"
    assert dump_all([{"a": 1}, {"b": 2}]) == "a: 1\n---\nb: 2\n"
    with pytest.raises(TypeError, match="cannot write set"):
        dump({"a": {1, 2}})


def _pyyaml_manifest(data: object) -> str:
    class Dumper(yaml.SafeDumper):
        pass

    def literal(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, literal)
    return yaml.dump(data, Dumper=Dumper, sort_keys=True, default_flow_style=False, width=10**9)


#: PyYAML writes an empty or multi-line key in the long ``? key`` form; ours stays short
SIMPLE_KEYS = st.text(ALPHABET, min_size=1, max_size=10).filter(
    lambda k: not any(ch in k for ch in "\n\r\x85\u2028\u2029")
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.dictionaries(
        SIMPLE_KEYS,
        st.recursive(
            SCALARS,
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(SIMPLE_KEYS, inner, max_size=3)
            ),
            max_leaves=15,
        ),
        max_size=4,
    )
)
def test_manifest_style_is_pyyaml_text(data: dict) -> None:
    """The k8s-jobs manifests were PyYAML's output: the manifest style writes the same
    bytes (lines are never folded, so PyYAML is asked not to fold either)."""
    assert dump(data, MANIFEST) == _pyyaml_manifest(data)


def test_same_bytes_in_every_process() -> None:
    script = (
        "from magnus_render.yamltext import dump, MANIFEST, SOURCE, STRICT\n"
        "d = {'z': [1.5, 'b', {'y': None, 'x': 'é\\nq'}], 'a': {'k%d' % i: i for i in range(50)}}\n"
        "print(dump(d) + dump(d, MANIFEST) + dump(d, SOURCE), end='')\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(outputs) == 1 and next(iter(outputs))


@pytest.mark.parametrize("style", STYLES.values(), ids=list(STYLES))
def test_a_key_too_long_for_key_colon_is_written_as_an_explicit_key(style: Style) -> None:
    """A reader takes ``key: value`` only for keys up to 1024 characters."""
    long = "k" * 1100
    data = {long: 1, "b": {long: [1, {long + "x": {"x": "a\nb"}}], "c": {}}, long + "e": {}}
    text = dump(data, style)
    assert yaml.safe_load(text) == data
    assert dump({"short": 1}, style) == "short: 1\n"
