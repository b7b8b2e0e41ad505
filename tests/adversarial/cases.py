"""Generated malformed pipelines and configs, each with the line its error must name.

A valid base document is kept as (id, line) pairs so a mutation can say exactly which line
it broke; the expected line is then known without parsing. Hand-written cases live as files
next to this module (``pipelines/``, ``configs/``) with an ``# expect-line: N`` header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    """One malformed document: its text, the line an error must point at, and why."""

    name: str
    text: str
    line: int
    contains: str = ""
    #: a reason when the front end is known to mishandle this case (xfail, strict)
    bug: str = ""
    kind: str = "pipeline"
    extras: dict[str, str] = field(default_factory=dict)


# fmt: off
BASE_PIPELINE: list[tuple[str, str]] = [
    ("root", "dag:"),
    ("dag.description", "  description: adversarial base"),
    ("dag.start_at", "  start_at: first"),
    ("dag.steps", "  steps:"),
    ("first", "    first:"),
    ("first.type", "      type: task"),
    ("first.command", "      command: samples.functions.initialize"),
    ("first.command_type", "      command_type: python"),
    ("first.max_attempts", "      max_attempts: 2"),
    ("first.catalog", "      catalog: {get: [a.csv], put: [b.csv]}"),
    ("first.overrides", "      overrides: {local: default}"),
    ("first.on_failure", "      on_failure: fail"),
    ("first.next", "      next: shell"),
    ("shell", "    shell:"),
    ("shell.type", "      type: task"),
    ("shell.command_type", "      command_type: shell"),
    ("shell.command", "      command: echo hello"),
    ("shell.next", "      next: par"),
    ("par", "    par:"),
    ("par.type", "      type: parallel"),
    ("par.next", "      next: each"),
    ("par.branches", "      branches:"),
    ("par.a", "        a:"),
    ("par.a.start_at", "          start_at: s"),
    ("par.a.steps", "          steps:"),
    ("par.a.s", "            s:"),
    ("par.a.s.type", "              type: stub"),
    ("par.a.s.next", "              next: success"),
    ("par.a.success", "            success: {type: success}"),
    ("par.a.fail", "            fail: {type: fail}"),
    ("each", "    each:"),
    ("each.type", "      type: map"),
    ("each.iterate_on", "      iterate_on: chunks"),
    ("each.iterate_as", "      iterate_as: chunk"),
    ("each.next", "      next: success"),
    ("each.branch", "      branch:"),
    ("each.b.start_at", "        start_at: work"),
    ("each.b.steps", "        steps:"),
    ("each.b.work", "          work:"),
    ("each.b.work.type", "            type: task"),
    ("each.b.work.command", "            command: samples.functions.process_chunk"),
    ("each.b.work.next", "            next: success"),
    ("each.b.success", "          success: {type: success}"),
    ("each.b.fail", "          fail: {type: fail}"),
    ("success", "    success:"),
    ("success.type", "      type: success"),
    ("fail", "    fail:"),
    ("fail.type", "      type: fail"),
]

BASE_CONFIG: list[tuple[str, str]] = [
    ("executor", "executor:"),
    ("executor.type", "  type: local"),
    ("executor.config", "  config: {}"),
    ("run_log_store", "run_log_store:"),
    ("run_log_store.type", "  type: file-system"),
    ("run_log_store.config", "  config:"),
    ("run_log_store.config.log_folder", "    log_folder: .run_log_store"),
    ("catalog", "catalog:"),
    ("catalog.type", "  type: file-system"),
    ("secrets", "secrets:"),
    ("secrets.type", "  type: env"),
    ("experiment_tracker", "experiment_tracker:"),
    ("experiment_tracker.type", "  type: do-nothing"),
]
# fmt: on

#: values of the wrong type for a string field (YAML source text)
NOT_A_STRING = {
    "list": "[1, 2]",
    "mapping": "{a: 1}",
    "int": "42",
    "bool": "true",
    "float": "1.5",
    "date": "2001-12-14",
    "binary": "!!binary aGVsbG8=",
    "empty_list": "[]",
    "huge_int": "9" * 300,
}
#: plain strings that no string field of the base accepts (not a name, path or type)
BAD_STRINGS = {
    "unicode": "'☃ snow ünïcödé 𝄞'",
    "spaces": "'   '",
    "newline": '"a\\nb"',
    "rtl": "'\u202eevil'",
    "long": "'" + "x" * 100_000 + "'",
}

_STRING_FIELDS = [
    "dag.start_at",
    "first.type",
    "first.command",
    "first.command_type",
    "first.next",
    "first.on_failure",
    "shell.next",
    "par.next",
    "par.a.start_at",
    "par.a.s.next",
    "each.iterate_on",
    "each.iterate_as",
    "each.next",
    "each.b.start_at",
    "each.b.work.command",
    "each.b.work.next",
]
_NOT_INT = {
    "zero": "0",
    "negative": "-1",
    "too_many": "1001",
    "string": "'3'",
    "float": "2.5",
    "bool": "true",
    "null": "null",
    "list": "[2]",
    "huge": "9" * 300,
    "inf": ".inf",
    "nan": ".nan",
    "exp": "1e400",
}
_BAD_CATALOG = {
    "string": "x.csv",
    "list": "[a.csv]",
    "get_string": "{get: a.csv}",
    "get_int": "{get: [1]}",
    "unknown": "{fetch: [a.csv]}",
    "int": "42",
    "nested": "{get: [[a.csv]]}",
}
_BAD_OVERRIDES = {
    "string": "local",
    "list": "[local]",
    "int_value": "{local: 1}",
    "list_value": "{local: [a]}",
    "int": "42",
}
_BAD_BRANCHES = {"string": "a", "list": "[a]", "empty": "{}", "int": "1", "not_map": "{a: 1}"}
_BAD_BRANCH = {"string": "a", "list": "[a]", "empty": "{}", "int": "1", "no_steps": "{start_at: a}"}
_BAD_TYPES = {"typo": "taks", "int": "1", "list": "[task]", "mapping": "{task: 1}", "case": "Task"}
_BAD_NAMES = {
    "dot": "'sh.ell'",
    "percent": "'sh%ell'",
    "empty": "''",
    "leading_space": "' shell'",
    "placeholder": "'x{map}'",
    "int": "123",
    "bool": "true",
    "control": '"sh\\x01ell"',
    "float": "1.5",
}
_CONFIG_SECTIONS = ["executor", "run_log_store", "catalog", "secrets", "experiment_tracker"]


class Doc:
    """A base document as editable (id, line) pairs."""

    def __init__(self, base: list[tuple[str, str]]) -> None:
        self.rows = list(base)

    def index(self, key: str) -> int:
        for i, (k, _) in enumerate(self.rows):
            if k == key:
                return i
        raise KeyError(key)

    def line(self, key: str) -> int:
        return self.index(key) + 1

    def _children_end(self, i: int) -> int:
        indent = _indent(self.rows[i][1])
        j = i + 1
        while j < len(self.rows) and _indent(self.rows[j][1]) > indent:
            j += 1
        return j

    def set_value(self, key: str, value: str) -> Doc:
        """Replace the value of a field (and drop its nested block, if any)."""
        i = self.index(key)
        head = self.rows[i][1].split(":", 1)[0]
        del self.rows[i + 1 : self._children_end(i)]
        self.rows[i] = (key, f"{head}: {value}")
        return self

    def rename(self, key: str, new_name: str) -> Doc:
        i = self.index(key)
        text = self.rows[i][1]
        indent, rest = text[: _indent(text)], text.split(":", 1)[1]
        self.rows[i] = (key, f"{indent}{new_name}:{rest}")
        return self

    def drop(self, key: str) -> Doc:
        i = self.index(key)
        del self.rows[i : self._children_end(i)]
        return self

    def insert_after(self, key: str, text: str, new_key: str = "new") -> Doc:
        i = self.index(key)
        self.rows.insert(i + 1, (new_key, text))
        return self

    def replace_line(self, key: str, text: str) -> Doc:
        i = self.index(key)
        self.rows[i] = (key, text)
        return self

    def text(self) -> str:
        return "\n".join(t for _, t in self.rows) + "\n"


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _step_of(key: str) -> str:
    """The id of the step line owning a field id (``par.a.s.next`` -> ``par.a.s``)."""
    return key.rsplit(".", 1)[0]


def pipeline_cases() -> Iterator[Case]:
    """Every generated malformed pipeline."""
    p = Doc
    for key in _STRING_FIELDS:
        for label, value in NOT_A_STRING.items():
            doc = p(BASE_PIPELINE).set_value(key, value)
            yield Case(f"{key}={label}", doc.text(), doc.line(key))
        for label, value in BAD_STRINGS.items():
            if key in ("each.iterate_on", "each.iterate_as") and label == "long":
                continue  # 100,000 letters are a valid (if silly) parameter name
            doc = p(BASE_PIPELINE).set_value(key, value)
            yield Case(f"{key}={label}", doc.text(), doc.line(key))
    for key in ("first.max_attempts",):
        for label, value in _NOT_INT.items():
            doc = p(BASE_PIPELINE).set_value(key, value)
            yield Case(f"{key}={label}", doc.text(), doc.line(key))
    for label, value in _BAD_CATALOG.items():
        doc = p(BASE_PIPELINE).set_value("first.catalog", value)
        yield Case(f"catalog={label}", doc.text(), doc.line("first.catalog"))
    for key in ("first.overrides",):
        for label, value in _BAD_OVERRIDES.items():
            doc = p(BASE_PIPELINE).set_value(key, value)
            yield Case(f"{key}={label}", doc.text(), doc.line(key))
    for label, value in _BAD_BRANCHES.items():
        doc = p(BASE_PIPELINE).set_value("par.branches", value)
        yield Case(f"branches={label}", doc.text(), doc.line("par.branches"))
    for label, value in _BAD_BRANCH.items():
        doc = p(BASE_PIPELINE).set_value("each.branch", value)
        yield Case(f"map.branch={label}", doc.text(), doc.line("each.branch"))
    for key in ("first.type", "par.type", "each.type", "success.type", "par.a.s.type"):
        for label, value in _BAD_TYPES.items():
            doc = p(BASE_PIPELINE).set_value(key, value)
            yield Case(f"{key} bad type {label}", doc.text(), doc.line(key))
        doc = p(BASE_PIPELINE).set_value(key, "null")
        yield Case(f"{key}=null", doc.text(), doc.line(_step_of(key)), "has no 'type'")
    for label, value in _BAD_NAMES.items():
        for key in ("shell", "par.a", "par.a.s", "each.b.work"):
            doc = p(BASE_PIPELINE).rename(key, value)
            yield Case(f"name {key}={label}", doc.text(), doc.line(key))
    # a misspelt or unknown field on every strict node type
    for step, after in (
        ("first", "first.type"),
        ("par", "par.type"),
        ("each", "each.type"),
        ("success", "success.type"),
        ("fail", "fail.type"),
        ("each.b.work", "each.b.work.type"),
    ):
        indent = " " * _indent(Doc(BASE_PIPELINE).rows[Doc(BASE_PIPELINE).index(after)][1])
        for label, extra in (("typo", "nxt: x"), ("unknown", "retries: 3"), ("unicode", "ключ: 1")):
            doc = p(BASE_PIPELINE).insert_after(after, f"{indent}{extra}", "extra")
            yield Case(f"{step} {label} field", doc.text(), doc.line("extra"), "unknown field")
    # required fields missing: reported at the step (or graph) that lacks them
    for key, owner in (
        ("first.command", "first"),
        ("each.iterate_on", "each"),
        ("each.iterate_as", "each"),
        ("each.branch", "each"),
        ("par.branches", "par"),
        ("first.next", "first"),
        ("par.a.s.next", "par.a.s"),
    ):
        doc = p(BASE_PIPELINE).drop(key)
        yield Case(f"missing {key}", doc.text(), doc.line(owner))
    # dangling references
    for key in ("first.next", "first.on_failure", "par.next", "each.b.work.next", "dag.start_at"):
        doc = p(BASE_PIPELINE).set_value(key, "nowhere")
        yield Case(f"dangling {key}", doc.text(), doc.line(key), "nowhere")
    # a cycle closed by a next or an on_failure
    doc = p(BASE_PIPELINE).set_value("each.next", "first")
    yield Case("cycle via next", doc.text(), doc.line("each.next"), "cycle")
    doc = p(BASE_PIPELINE).set_value("par.a.s.next", "s")
    yield Case("self loop in branch", doc.text(), doc.line("par.a.s.next"), "cycle")
    # a second success node
    doc = p(BASE_PIPELINE).insert_after("fail.type", "    success2: {type: success}", "s2")
    yield Case("two success nodes", doc.text(), doc.line("s2"), "exactly one success")
    yield from _yaml_level_cases()
    yield from _known_bug_cases()


def _field_lines() -> list[str]:
    """Ids of lines holding a scalar field (``key: value`` with a value on the line)."""
    return [
        k
        for k, t in BASE_PIPELINE
        if ":" in t and t.split(":", 1)[1].strip() and not t.strip().startswith("{")
    ]


def _yaml_level_cases() -> Iterator[Case]:
    """Broken YAML itself: tabs, duplicate keys, tags, aliases, stray characters."""
    for key in _field_lines():
        if key == "dag.description":
            continue
        doc = Doc(BASE_PIPELINE)
        text = doc.rows[doc.index(key)][1]
        dup = Doc(BASE_PIPELINE).insert_after(key, text, "dup")
        yield Case(f"duplicate {key}", dup.text(), dup.line("dup"), "duplicate key")
        tab = Doc(BASE_PIPELINE).replace_line(key, "\t" + text.lstrip(" "))
        yield Case(f"tab {key}", tab.text(), tab.line(key), "tab")
        tag = Doc(BASE_PIPELINE).set_value(key, "!!python/object/apply:os.system ['touch x']")
        yield Case(f"python tag {key}", tag.text(), tag.line(key), "tag")
        alias = Doc(BASE_PIPELINE).set_value(key, "*undefined")
        yield Case(f"unknown alias {key}", alias.text(), alias.line(key), "alias")
        local = Doc(BASE_PIPELINE).set_value(key, "!custom value")
        yield Case(f"local tag {key}", local.text(), local.line(key), "tag")
    for key in ("first", "par", "each", "success"):
        doc = Doc(BASE_PIPELINE).set_value(key, "[not, a, mapping]")
        yield Case(f"step {key} is a list", doc.text(), doc.line(key), "must be a mapping")
        doc = Doc(BASE_PIPELINE).set_value(key, "just a string")
        yield Case(f"step {key} is a string", doc.text(), doc.line(key), "must be a mapping")
    for key in ("dag.steps",):
        for label, value in (("list", "[a, b]"), ("string", "a"), ("empty", "{}"), ("int", "3")):
            doc = Doc(BASE_PIPELINE).set_value(key, value)
            yield Case(f"steps={label}", doc.text(), doc.line(key), "steps")


def _known_bug_cases() -> Iterator[Case]:
    """Cases the front end once got wrong (see /tmp/frontend-bugs.md); fixed, kept as tests."""
    key = "first.max_attempts"
    bugs = {
        "bool_maybe": ("!!bool maybe", "KeyError escapes the loader (traceback)"),
        "hex_5000": ("0x" + "f" * 5000, "repr() of a huge int raises ValueError"),
        "dec_5000": ("9" * 5000, "int past 4300 digits: diagnostic without a line"),
        "bad_timestamp": ("!!timestamp 2001-99-99", "bad !!timestamp: diagnostic without a line"),
        "bad_int_tag": ("!!int zz", "bad !!int: diagnostic without a line"),
        "bad_float_tag": ("!!float abc", "bad !!float: diagnostic without a line"),
    }
    for label, (value, why) in bugs.items():
        doc = Doc(BASE_PIPELINE).set_value(key, value)
        yield Case(f"{key}={label}", doc.text(), doc.line(key), extras={"was": why})
    doc = Doc(BASE_PIPELINE).set_value("dag.start_at", "null")
    yield Case("start_at=null", doc.text(), doc.line("dag.start_at"), "start_at")
    doc = Doc(BASE_PIPELINE).set_value("par.a.start_at", "~")
    yield Case(
        "branch start_at=null",
        doc.text(),
        doc.line("par.a.start_at"),
        "start_at",
    )
    doc = Doc(BASE_PIPELINE).set_value("shell.command", '"echo \\0 nul"')
    nul = doc.text().replace("\\0", "\x00")
    yield Case("raw NUL character", nul, doc.line("shell.command"), "control characters")


def config_cases() -> Iterator[Case]:
    """Every generated malformed config file."""
    for section in _CONFIG_SECTIONS:
        for label, value in (("list", "[local]"), ("string", "local"), ("int", "1")):
            doc = Doc(BASE_CONFIG).set_value(section, value)
            yield Case(f"{section}={label}", doc.text(), doc.line(section), kind="config")
        for label, value in NOT_A_STRING.items():
            if label in ("huge_int", "date"):
                continue  # an unquoted date loads as its text: an unknown backend name
            doc = Doc(BASE_CONFIG).set_value(f"{section}.type", value)
            yield Case(
                f"{section}.type={label}",
                doc.text(),
                doc.line(f"{section}.type"),
                kind="config",
            )
        doc = Doc(BASE_CONFIG).insert_after(f"{section}.type", "  confg: {}", "typo")
        yield Case(f"{section} typo", doc.text(), doc.line("typo"), "unknown", kind="config")
        doc = Doc(BASE_CONFIG).drop(f"{section}.type")
        if section in ("executor", "run_log_store"):
            # reported where the section's mapping starts: the line after its key
            yield Case(f"{section} without type", doc.text(), doc.line(section) + 1, kind="config")
        dup = Doc(BASE_CONFIG).insert_after(f"{section}.type", "  type: other", "dup")
        yield Case(
            f"{section} duplicate type", dup.text(), dup.line("dup"), "duplicate", kind="config"
        )
        tab = Doc(BASE_CONFIG).replace_line(f"{section}.type", "\ttype: x")
        yield Case(f"{section} tab", tab.text(), tab.line(f"{section}.type"), "tab", kind="config")
    for label, value in (("string", "fs"), ("list", "[a]"), ("int", "7")):
        doc = Doc(BASE_CONFIG).set_value("executor.config", value)
        yield Case(
            f"executor.config={label}", doc.text(), doc.line("executor.config"), kind="config"
        )
    for label, extra in (("unknown section", "executors:"), ("unicode section", "исполнитель:")):
        doc = Doc(BASE_CONFIG).insert_after("experiment_tracker.type", extra, "extra")
        doc.insert_after("extra", "  type: local", "extra2")
        yield Case(label, doc.text(), doc.line("extra"), kind="config")
    dup = Doc(BASE_CONFIG).insert_after("secrets.type", "executor:", "dup")
    yield Case("duplicate section", dup.text(), dup.line("dup"), "duplicate", kind="config")


_EXPECT = re.compile(r"#\s*expect-line:\s*(\d+)(?:\s+contains:\s*(.+))?")


def file_cases(folder: str, kind: str) -> Iterator[Case]:
    """Hand-written cases: files whose head says ``# expect-line: N [contains: text]``."""
    for path in sorted((HERE / folder).glob("*.yaml")):
        head = path.read_bytes()[:300].decode("utf-8", "replace")
        match = _EXPECT.search(head)
        if match is None:
            raise ValueError(f"{path}: no '# expect-line: N' in its first lines")
        text = path.read_text(encoding="utf-8")
        contains = (match.group(2) or "").strip()
        yield Case(path.name, text, int(match.group(1)), contains, kind=kind)


def all_pipeline_cases() -> list[Case]:
    return [*pipeline_cases(), *file_cases("pipelines", "pipeline")]


def all_config_cases() -> list[Case]:
    return [*config_cases(), *file_cases("configs", "config")]
