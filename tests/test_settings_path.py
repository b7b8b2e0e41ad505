"""The one settings path (magnus_render.settings): the merge rule, the one error wording
every target and executor uses, and the per-step merge the remote executors now share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from magnus_render.errors import MagnusError
from magnus_render.render import render_text
from magnus_render.settings import deep_merge

PIPELINE = """\
dag:
  start_at: train
  steps:
    train:
      type: task
      command: samples.functions.train
      overrides: {OWNER: big}
      next: success
    success:
      type: success
    fail:
      type: fail
"""


# -- deep_merge ---------------------------------------------------------------------------
def test_deep_merge_merges_mappings_recursively() -> None:
    base = {"env": {"A": "1", "B": "1"}, "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
    patch = {"env": {"B": "2", "C": "3"}, "resources": {"limits": {"memory": "8Gi"}}}
    assert deep_merge(base, patch) == {
        "env": {"A": "1", "B": "2", "C": "3"},
        "resources": {"limits": {"cpu": "1", "memory": "8Gi"}},
    }


def test_deep_merge_replaces_lists_scalars_and_null() -> None:
    base = {"tolerations": [{"key": "a"}, {"key": "b"}], "image": "x", "gpu": 1, "env": {"A": 1}}
    patch = {"tolerations": [{"key": "c"}], "image": "y", "gpu": None, "env": "flat"}
    assert deep_merge(base, patch) == {
        "tolerations": [{"key": "c"}],
        "image": "y",
        "gpu": None,
        "env": "flat",  # a scalar over a mapping replaces it too
    }
    assert deep_merge({"a": 1}, {"b": {"c": 2}}) == {"a": 1, "b": {"c": 2}}


def test_deep_merge_changes_neither_argument() -> None:
    base = {"env": {"A": "1"}, "list": [1]}
    patch = {"env": {"B": "2"}, "list": [2]}
    merged = deep_merge(base, patch)
    merged["env"]["Z"] = "9"
    assert base == {"env": {"A": "1"}, "list": [1]} and patch == {"env": {"B": "2"}, "list": [2]}


# -- one error wording, from different targets and executors -----------------------------
def _config(tmp_path: Path, kind: str, body: str) -> Path:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(f"# {kind}\nexecutor:\n  type: {kind}\n  config:\n{body}", encoding="utf-8")
    return path


def _render_error(tmp_path: Path, target: str, config: Path, owner: str) -> str:
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE.replace("OWNER", owner), encoding="utf-8")
    with pytest.raises(MagnusError) as info:
        render_text(pipeline, target, config, None, "img:1", {})
    return str(info.value)


def _execute_error(tmp_path: Path, config: Path, owner: str) -> str:
    from magnus_render.runtime.entrypoints import _context, make_executor

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE.replace("OWNER", owner), encoding="utf-8")
    with pytest.raises(MagnusError) as info:
        make_executor(_context(pipeline, config, None, "r1")).validate()
    return str(info.value)


#: (target or executor, the executor type its config names, base settings it needs)
OWNERS = [
    ("argo", "argo", "    image: x\n"),
    ("stepfunctions", "stepfunctions", ""),
    ("k8s-jobs", "k8s-job", ""),
    ("aws-batch", "aws-batch", "    job_queue: q\n    job_definition: d\n"),
    ("local-container", "local-container", "    image: x\n"),
]


def _error(tmp_path: Path, target: str, kind: str, config: Path) -> str:
    if target in ("aws-batch", "local-container"):
        return _execute_error(tmp_path, config, kind)
    return _render_error(tmp_path, target, config, kind)


@pytest.mark.parametrize(("target", "kind", "base"), OWNERS)
def test_unknown_setting_has_one_wording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, kind: str, base: str
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, kind, base + "    paralelism: 2\n")
    line = 5 + base.count("\n")
    message = _error(tmp_path, target, kind, config)
    assert message == f"{config}:{line}: executor.config.paralelism: unknown setting"


@pytest.mark.parametrize(("target", "kind", "base"), OWNERS)
def test_bad_override_names_its_own_line_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, kind: str, base: str
) -> None:
    monkeypatch.chdir(tmp_path)
    body = base + "    overrides:\n      small: {}\n      big:\n        imagee: y\n"
    config = _config(tmp_path, kind, body)
    line = 8 + base.count("\n")  # the line of `imagee`, not of `overrides` or `config`
    message = _error(tmp_path, target, kind, config)
    assert message == f"{config}:{line}: executor.config.overrides.big.imagee: unknown setting"


@pytest.mark.parametrize(("target", "kind", "base"), OWNERS)
def test_undefined_override_is_named_at_the_steps_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, kind: str, base: str
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, kind, base + "    overrides:\n      small: {}\n")
    message = _error(tmp_path, target, kind, config)
    assert message == (
        f"{tmp_path / 'p.yaml'}:4: step 'train': overrides.{kind} 'big' is not defined in "
        "executor.config.overrides (defined: small)"
    )


def test_shell_target_uses_the_same_wording(tmp_path: Path) -> None:
    config = _config(tmp_path, "shell", "    overrides:\n      big: {env: {'BAD NAME': x}}\n")
    message = _render_error(tmp_path, "shell", config, "shell")
    assert re.fullmatch(
        rf"{re.escape(str(config))}:6: executor\.config\.overrides\.big\.env: value error, "
        r"'BAD NAME' is not a valid environment variable name",
        message,
    ), message


# -- the environment merge: aws-batch and local-container used to replace it -------------
def _ctx(tmp_path: Path, kind: str, body: str) -> Any:
    from magnus_render.runtime.entrypoints import _context

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE.replace("OWNER", kind), encoding="utf-8")
    return _context(pipeline, _config(tmp_path, kind, body), None, "r1")


def test_aws_batch_override_merges_environment_and_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from magnus_render.runtime.executors.aws_batch import AwsBatchExecutor

    monkeypatch.chdir(tmp_path)
    body = (
        "    job_queue: q\n    job_definition: d\n    shared_filesystem: true\n"
        "    environment: {GLOBAL: g, SHARED: global}\n    tags: {team: ml}\n"
        "    overrides:\n      big:\n        environment: {STEP: s, SHARED: step}\n"
        "        tags: {size: big}\n        memory: 4096\n"
    )
    executor = AwsBatchExecutor(_ctx(tmp_path, "aws-batch", body))
    executor.validate()
    node = executor.ctx.pipeline.graph.node("train")
    request = executor.submit_request(node, {}, ["magnus", "execute_single_node"])
    environment = request["containerOverrides"]["environment"]
    assert environment == [
        {"name": "GLOBAL", "value": "g"},
        {"name": "SHARED", "value": "step"},
        {"name": "STEP", "value": "s"},
    ]
    assert request["tags"]["team"] == "ml" and request["tags"]["size"] == "big"
    assert {"type": "MEMORY", "value": "4096"} in request["containerOverrides"][
        "resourceRequirements"
    ]


def test_local_container_override_merges_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from magnus_render.runtime.executors.local_container import LocalContainerExecutor

    monkeypatch.chdir(tmp_path)
    body = (
        "    image: img:1\n    environment: {GLOBAL: g, SHARED: global}\n"
        "    run_args: [--network=none]\n"
        "    overrides:\n      big:\n        environment: {STEP: s, SHARED: step}\n"
        "        run_args: [--cpus=2]\n"
    )
    executor = LocalContainerExecutor(_ctx(tmp_path, "local-container", body))
    executor.engine = "podman"  # no engine probe: only the command line is looked at
    node = executor.ctx.pipeline.graph.node("train")
    words = executor.container_argv(node, {}, ["magnus", "execute_single_node"])
    env = [words[i + 1] for i, w in enumerate(words) if w == "-e"]
    assert env == ["GLOBAL=g", "SHARED=step", "STEP=s"]
    assert "--cpus=2" in words and "--network=none" not in words  # a list replaces


@pytest.mark.parametrize(
    ("patch", "line", "key", "why"),
    [
        ("      nope: {command: x}\n", 6, "patches.nope", "no such step"),
        ("      train:\n        comand: x\n", 7, "patches.train.comand", "cannot be patched"),
    ],
)
def test_mocked_patches_use_the_same_wording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patch: str, line: int, key: str, why: str
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, "mocked", "    patches:\n" + patch)
    message = _execute_error(tmp_path, config, "argo")  # an override of another target
    assert message.startswith(f"{config}:{line}: executor.config.{key}: "), message
    assert why in message
