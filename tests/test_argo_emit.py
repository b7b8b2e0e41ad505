"""The spec emitter writes YAML that safe_load reads back as exactly the same data."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from magnus_render.renderers.argo.emit import dump, scalar

KEYS = st.text(min_size=0, max_size=12)
SCALARS = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.booleans(),
    st.none(),
    st.sampled_from(["yes", "No", "ON", "null", "~", "1e3", "0x1F", "1:20", "-", "- a", "a: b"]),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEYS, DATA, max_size=5))
def test_round_trip(data: dict) -> None:
    assert yaml.safe_load(dump(data)) == data


def test_plain_only_when_unambiguous() -> None:
    assert scalar("step-1.Succeeded") == "step-1.Succeeded"
    assert scalar("/tmp/magnus-items.json") == "/tmp/magnus-items.json"
    for text in ("yes", "True", "null", "1", "{{item}}", "a b", "", "-c"):
        assert scalar(text).startswith('"'), text


def test_line_breaks_and_invisible_characters_are_escaped() -> None:
    text = scalar("a\u2028b\x85c\ufeffd\ne")
    assert "\u2028" not in text and "\x85" not in text and "\n" not in text
    assert yaml.safe_load(text) == "a\u2028b\x85c\ufeffd\ne"
