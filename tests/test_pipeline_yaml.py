"""The event-driven YAML constructor builds exactly what PyYAML's safe loader builds.

It is ours for speed and line numbers, so it is checked against `yaml.safe_load` on
random documents in every style, and on the scalars where plain and quoted differ.
"""

from __future__ import annotations

import datetime
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from magnus_render.pipeline.yaml_source import load_yaml_text

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["123", "true", "null", "~", "", "1e3", "0x1f", "yes", "on", "2001-12-14"])
)  # no dates: safe_dump writes them as !!timestamp, which we refuse (JSON cannot hold them)
DATA = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(data=DATA, flow=st.sampled_from([None, True, False]), style=st.sampled_from([None, '"']))
def test_same_objects_as_safe_load(data: Any, flow: bool | None, style: str | None) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, default_style=style, allow_unicode=True)
    ours, _ = load_yaml_text(text, "random.yaml")
    assert ours == yaml.safe_load(text)


def test_quoted_and_plain_scalars_keep_their_types_in_any_order() -> None:
    text = """\
a: "123"
b: 123
c: 'true'
d: true
e: ""
f:
g: abc
h: "abc"
i: !!str 5
j: 5
k: ! 7
l: 7
m: "null"
n: null
o: 2001-12-14
p: "2001-12-14"
"""
    data, _ = load_yaml_text(text, "scalars.yaml")
    assert data == {
        "a": "123",
        "b": 123,
        "c": "true",
        "d": True,
        "e": "",
        "f": None,
        "g": "abc",
        "h": "abc",
        "i": "5",
        "j": 5,
        "k": "7",
        "l": 7,
        "m": "null",
        "n": None,
        "o": "2001-12-14",  # an unquoted date stays its text
        "p": "2001-12-14",
    }
    expected = yaml.safe_load(text)
    expected["k"] = "7"  # the YAML spec's non-specific '!' means string; PyYAML resolves it
    assert expected["o"] == datetime.date(2001, 12, 14)
    expected["o"] = "2001-12-14"  # YAML 1.1's implicit timestamp: we keep the text (1.2)
    assert data == expected


def test_key_and_mapping_lines() -> None:
    text = "top:\n  first: 1\n\n  second:\n    inner: [1, 2]\nother: {x: 1}\n"
    data, source = load_yaml_text(text, "lines.yaml")
    assert source.line_of(data, "top") == 1
    assert source.line_of(data, "other") == 6
    assert source.line_of(data["top"]) == 2
    assert source.line_of(data["top"], "second") == 4
    assert source.line_of(data["top"]["second"], "inner") == 5
    assert source.line_of(data["other"], "x") == 6
    assert source.line_of({"not": "recorded"}) is None


def test_merge_keys_and_aliases_resolve_like_safe_load() -> None:
    text = "base: &b {type: task, command: m.f}\nstep:\n  <<: *b\n  next: x\nlist: [*b, *b]\n"
    data, source = load_yaml_text(text, "merge.yaml")
    assert data == yaml.safe_load(text)
    assert source.line_of(data["step"], "next") == 4
    assert source.line_of(data["step"], "type") == 3  # merged keys point at the mapping
