"""A python task reads only the MAGNUS_PRM_/MAGNUS_TRACK_ values of the environment
(issue 18): decoding every value of a big environment several times per task cost more
than a small task itself in a map over thousands of items."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from magnus_render.runtime.tasks import exported_parameters, prefixed, tracked


class Recording(Mapping[str, str]):
    """An environment that records which values were read."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = data
        self.read: list[str] = []

    def __getitem__(self, key: str) -> str:
        self.read.append(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_only_prefixed_values_are_read() -> None:
    env = Recording(
        {"PATH": "/bin", "HUGE": "x" * 100_000, "MAGNUS_TRACK_loss": "0.5", "MAGNUS_PRM_a": "1"}
    )
    assert tracked(env, {}) == {"loss": 0.5}
    assert env.read == ["MAGNUS_TRACK_loss"]
    env.read.clear()
    assert prefixed(env, ("MAGNUS_PRM_", "MAGNUS_TRACK_")) == {
        "MAGNUS_TRACK_loss": "0.5",
        "MAGNUS_PRM_a": "1",
    }
    assert sorted(env.read) == ["MAGNUS_PRM_a", "MAGNUS_TRACK_loss"]


def test_exported_parameters_are_those_that_changed(monkeypatch) -> None:
    monkeypatch.setenv("MAGNUS_PRM_same", "1")
    monkeypatch.setenv("MAGNUS_PRM_new", '{"k": [1, 2]}')
    monkeypatch.setenv("MAGNUS_PRMX", "not a parameter")
    assert exported_parameters({"MAGNUS_PRM_same": "1"}) == {"new": {"k": [1, 2]}}
