"""DNS-1123 names derived from any step name: legal, short, stable, unique."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from magnus_render.contract.naming import UniqueNames, dns_label, is_dns_label


def test_legal_names_are_kept() -> None:
    assert dns_label("train-model-2") == "train-model-2"


def test_illegal_names_get_readable_form_and_stable_hash() -> None:
    label = dns_label("Train Model ✓")
    assert label.startswith("train-model-")
    assert is_dns_label(label)
    assert label == dns_label("Train Model ✓")  # stable
    assert dns_label("train model") != dns_label("Train Model")  # distinct inputs


def test_long_names_are_shortened_to_63() -> None:
    label = dns_label("a" * 200)
    assert len(label) == 63 and is_dns_label(label)
    assert dns_label("a" * 200) != dns_label("a" * 201)


def test_names_without_any_alphanumerics() -> None:
    assert is_dns_label(dns_label("🙂 '\" ---"))
    assert is_dns_label(dns_label(""))


def test_is_dns_label_rejects() -> None:
    for bad in ("", "-a", "a-", "A", "a_b", "a" * 64, "a.b"):
        assert not is_dns_label(bad), bad


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=90), min_size=1, max_size=30, unique=True))
def test_any_text_gets_a_unique_legal_name(texts: list[str]) -> None:
    names = UniqueNames()
    got = [names.name(text) for text in texts]
    assert all(is_dns_label(name) for name in got)
    assert len(set(got)) == len(got)
    assert [names.name(text) for text in texts] == got  # asking again repeats


def test_collisions_resolved_deterministically() -> None:
    first = UniqueNames(reserved=("main",))
    second = UniqueNames(reserved=("main",))
    assert first.name("k1", "main") == second.name("k1", "main") != "main"
    assert first.name("k2", "a-b") == "a-b"
    clash = first.name("k3", "a-b")
    assert clash != "a-b" and is_dns_label(clash)


def test_unique_names_prefer_the_short_readable_form() -> None:
    names = UniqueNames()
    assert names.name("step_1") == "step-1"
    other = names.name("step-1")  # its readable form is taken: hashed instead
    assert other != "step-1" and other.startswith("step-1-") and is_dns_label(other)
    assert names.name("Très long " * 10) == dns_label("Très long " * 10)


def test_letter_first_names() -> None:
    names = UniqueNames(letter_first=True)
    assert names.name("1st step") == "n-1st-step"
    assert names.name("_9") == "n-9"
    assert names.name("step 1") == "step-1"
    assert UniqueNames().name("1st step") == "1st-step"
