"""A test-only player for rendered Argo Workflows: enough of Argo to run them here.

It walks DAG templates as the controller does: a task starts when every task named in
its ``depends`` is fulfilled, runs if the expression holds and is *Omitted* otherwise;
``spec.arguments`` are the ``workflow.parameters.*`` (``arguments=`` overrides them as
``argo submit -p`` does); ``withParam`` expands into one child per item (``{{item}}`` is
the item itself when it is a string, its JSON otherwise); ``{{...}}`` expressions
(``{{=...}}`` ones evaluated) are substituted (an unknown one is an error, as in Argo),
and, as Argo's ``substituteParams`` does, global tags inside an input parameter's value
are substituted too (a map item ``{{workflow.name}}`` becomes the workflow's name);
container templates run their command as a subprocess after the kubelet's
``$(VAR)``/``$$`` expansion (``tests/helpers/kubernetes.py``), with output parameters
read from ``valueFrom.path``. With ``concurrent=True`` the iterations of a ``withParam``
run at once in threads, as pods would. A DAG's phase follows Argo's ``assessDAGPhase``:
the phases of the leaf tasks, an omitted leaf inheriting the phase of the last completed
task on its paths, Failed preferred. Otherwise tasks run one at a time, in a stable
order, so a play is reproducible.

``when`` is substituted then evaluated as Argo's govaluate does (a false one gives a
*Skipped* task); a task's scope holds ``tasks.<t>.status`` and the outputs of its
ancestors only, as in Argo; a DAG template's output parameters (``valueFrom.parameter``
or an expr-lang ``valueFrom.expression`` over ``tasks['t'].status`` and outputs) are set
when the DAG succeeds; ``templateRef`` reaches the given WorkflowTemplates.

Not modelled (not used by the conformance tests): retryStrategy, timeouts, parallelism,
steps templates, artifacts, exit handlers. Each pod gets a private directory standing in
for its own filesystem: an output file path (``/tmp/...``) is redirected there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.kubernetes import container_env, expand_command

_EXPR = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_TOKEN = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_]*)(?:\.([A-Za-z]+))?")
COMPLETED = ("Succeeded", "Failed", "Error")


class PlayerError(Exception):
    """The spec asks for something this player (or Argo) cannot do."""


@dataclass
class PodRun:
    template: str
    command: list[str]
    exit_code: int


@dataclass
class Play:
    """What happened: the workflow phase and every container run, in order."""

    phase: str = ""
    pods: list[PodRun] = field(default_factory=list)


def substitute(text: str, scope: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("="):  # an expression tag, evaluated over the same scope
            return _as_text(evaluate_expression(key[1:], scope))
        if key not in scope:
            raise PlayerError(f"unresolved expression {{{{{key}}}}}")
        return scope[key]

    return _EXPR.sub(one, text)


def substitute_globals(value: str, scope: Mapping[str, str]) -> str:
    """What Argo's ``substituteParams`` does to an input parameter's *value* before the
    template uses it: its first pass replaces global (``workflow.*``) tags in the whole
    template, values included, keeping tags it does not know; ``{{=...}}`` would be
    evaluated as an expression, which no magnus value may ask for."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("="):
            raise PlayerError(f"a parameter value holds an Argo expression: {value!r}")
        return scope.get(key, match.group(0))

    return _EXPR.sub(one, value)


def evaluate_depends(expression: str, phases: Mapping[str, str]) -> bool:
    """Argo's ``depends`` language: ``A.Succeeded``, ``&&``, ``||``, ``!``, parentheses."""

    def atom(match: re.Match[str]) -> str:
        name, result = match.group(1), match.group(2)
        phase = phases[name]
        if result is None:
            ok = phase in ("Succeeded", "Skipped")
        elif result == "Errored":
            ok = phase == "Error"
        elif result in ("Succeeded", "Failed", "Skipped", "Omitted", "Daemoned"):
            ok = phase == result
        else:
            raise PlayerError(f"task result {result!r} not supported by the player")
        return " True " if ok else " False "

    python = _TOKEN.sub(atom, expression)
    python = python.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    words = python.replace("(", " ( ").replace(")", " ) ").split()
    if not words or set(words) - {"True", "False", "and", "or", "not", "(", ")"}:
        raise PlayerError(f"cannot evaluate depends {expression!r}")
    return bool(eval(python, {"__builtins__": {}}, {}))  # only True/False/and/or/not left


_WHEN_TOKEN = re.compile(r"\s*(?:('[^']*'|\"[^\"]*\")|(==|!=|&&|\|\||!|\(|\))|([A-Za-z0-9_]+))")


def evaluate_when(text: str) -> bool:
    """Argo's ``when`` after substitution: govaluate with bare words read as strings."""
    words, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _WHEN_TOKEN.match(text, pos)
        if match is None:
            raise PlayerError(f"cannot evaluate when {text!r} at {text[pos:]!r}")
        quoted, operator, bare = match.groups()
        if quoted is not None:
            words.append(repr(quoted[1:-1]))
        elif operator is not None:
            words.append({"&&": "and", "||": "or", "!": "not"}.get(operator, operator))
        else:
            words.append({"true": "True", "false": "False"}.get(bare, repr(bare)))
        pos = match.end()
    result = eval(" ".join(words), {"__builtins__": {}}, {})  # only literals and operators
    if not isinstance(result, bool):
        raise PlayerError(f"when {text!r} is not a boolean")
    return result


_EXPR_TOKEN = re.compile(
    r"\s*(?:('[^']*'|\"[^\"]*\")|(==|!=|&&|\|\||[!?:.,()\[\]])|([A-Za-z_][A-Za-z0-9_]*))"
)


class _Env(dict):  # type: ignore[type-arg]
    """A nested scope whose keys are also attributes (``tasks['a'].status``)."""

    def __getattr__(self, key: str) -> Any:
        if key not in self:
            raise PlayerError(f"expression reads {key!r}, which is not in the scope")
        return self[key]

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise PlayerError(f"expression reads {key!r}, which is not in the scope")
        return dict.__getitem__(self, key)


def evaluate_expression(text: str, scope: Mapping[str, str]) -> Any:
    """The expr-lang subset Argo output expressions use here: strings, member access,
    ``==``, ``!=``, ``in [...]``, ``&&``, ``||``, ``!``, ``c ? a : b``, parentheses."""
    env = _Env()
    for key, value in scope.items():
        node = env
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, _Env())
        node[last] = value
    tokens: list[tuple[str, str]] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        match = _EXPR_TOKEN.match(text, pos)
        if match is None:
            raise PlayerError(f"cannot evaluate expression {text!r} at {text[pos:]!r}")
        quoted, operator, name = match.groups()
        if quoted is not None:
            tokens.append(("str", repr(quoted[1:-1])))
        elif operator is not None:
            tokens.append(("op", operator))
        else:
            tokens.append(("name", name))
        pos = match.end()
    source = _python(tokens)
    return eval(source, {"__builtins__": {}, "_v": env.__getitem__}, {})


def _python(tokens: list[tuple[str, str]]) -> str:
    """Python source for expr-lang tokens (the ternary becomes ``a if c else b``)."""
    depth = 0
    for i, (kind, text) in enumerate(tokens):
        if kind == "op" and text in "([":
            depth += 1
        elif kind == "op" and text in ")]":
            depth -= 1
        elif kind == "op" and text == "?" and depth == 0:
            nested, depth2 = 0, 0
            for j in range(i + 1, len(tokens)):
                kind2, text2 = tokens[j]
                if kind2 == "op" and text2 in "([":
                    depth2 += 1
                elif kind2 == "op" and text2 in ")]":
                    depth2 -= 1
                elif kind2 == "op" and text2 == "?" and depth2 == 0:
                    nested += 1
                elif kind2 == "op" and text2 == ":" and depth2 == 0:
                    if nested == 0:
                        cond, yes, no = tokens[:i], tokens[i + 1 : j], tokens[j + 1 :]
                        return f"(({_python(yes)}) if ({_python(cond)}) else ({_python(no)}))"
                    nested -= 1
            raise PlayerError("'?' without ':' in expression")
    words = []
    for i, (kind, text) in enumerate(tokens):
        after_dot = i > 0 and tokens[i - 1] == ("op", ".")
        if kind == "name" and text in ("true", "false", "nil", "in") and not after_dot:
            words.append({"true": "True", "false": "False", "nil": "None"}.get(text, " in "))
        elif kind == "name" and not after_dot:
            words.append(f"_v({text!r})")
        elif kind == "op":
            words.append({"&&": " and ", "||": " or ", "!": " not "}.get(text, text))
        else:
            words.append(text)
    return "".join(words)


def _as_text(value: Any) -> str:
    """How Argo stores an expression's result as a parameter value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def depends_names(expression: str) -> list[str]:
    return [m.group(1) for m in _TOKEN.finditer(expression)]


class Player:
    """Plays one Workflow document in ``workdir`` with ``env`` for every container."""

    def __init__(
        self,
        doc: dict[str, Any],
        workdir: Path,
        env: Mapping[str, str],
        workflow_name: str = "argo-play",
        timeout: float = 120,
        library: Sequence[dict[str, Any]] = (),
        concurrent: bool = False,
        arguments: Mapping[str, str] | None = None,
    ) -> None:
        if doc.get("kind") != "Workflow":
            raise PlayerError(f"the player runs Workflows, not {doc.get('kind')}")
        self.spec = doc["spec"]
        #: ``workflow.parameters.*``: spec.arguments, overridden as ``argo submit -p`` does
        declared = (self.spec.get("arguments") or {}).get("parameters") or []
        self.parameters = {p["name"]: str(p.get("value", "")) for p in declared}
        for name, value in (arguments or {}).items():
            if name not in self.parameters:
                raise PlayerError(f"argo submit -p {name}: the workflow has no such argument")
            self.parameters[name] = value
        self.templates = {t["name"]: t for t in self.spec["templates"]}
        #: WorkflowTemplates that tasks reach with templateRef: name -> their templates
        self.library = {
            wt["metadata"]["name"]: {t["name"]: t for t in wt["spec"]["templates"]}
            for wt in library
        }
        self.workdir = workdir
        self.env = dict(env)
        self.workflow_name = workflow_name
        self.timeout = timeout
        self.play = Play()
        #: run withParam iterations in threads (pods at once) instead of one by one
        self.concurrent = concurrent
        self._lock = threading.Lock()

    def run(self) -> Play:
        phase, _ = self._template(self.spec["entrypoint"], {}, self.templates)
        self.play.phase = phase
        return self.play

    # -- templates ---------------------------------------------------------------------
    def _template(
        self, name: str, arguments: Mapping[str, str], templates: Mapping[str, Any]
    ) -> tuple[str, dict[str, str]]:
        template = templates.get(name)
        if template is None:
            raise PlayerError(f"no template {name!r}")
        inputs: dict[str, str] = {}
        for param in (template.get("inputs") or {}).get("parameters") or []:
            if param["name"] in arguments:
                inputs[param["name"]] = arguments[param["name"]]
            elif "default" in param or "value" in param:
                inputs[param["name"]] = str(param.get("value", param.get("default")))
            else:
                raise PlayerError(f"template {name!r}: input {param['name']!r} not given")
        scope = {"workflow.name": self.workflow_name}
        scope.update({f"workflow.parameters.{k}": v for k, v in self.parameters.items()})
        inputs = {k: substitute_globals(v, scope) for k, v in inputs.items()}
        scope.update({f"inputs.parameters.{k}": v for k, v in inputs.items()})
        if "dag" in template:
            return self._dag(template, scope, templates)
        if "container" in template:
            return self._container(template, scope)
        raise PlayerError(f"template {name!r}: only dag and container templates are played")

    def _container(
        self, template: dict[str, Any], scope: Mapping[str, str]
    ) -> tuple[str, dict[str, str]]:
        container = template["container"]
        argv = [substitute(w, scope) for w in container.get("command", [])]
        argv += [substitute(w, scope) for w in container.get("args", [])]
        with tempfile.TemporaryDirectory(prefix="pod-", dir=self.workdir.parent) as pod:
            outputs = {}
            for param in (template.get("outputs") or {}).get("parameters") or []:
                path = param["valueFrom"]["path"]
                private = str(Path(pod) / Path(path).name)
                argv = [private if word == path else word for word in argv]
                outputs[param["name"]] = private
            # then the kubelet: $(VAR) of the container's own variables and $$ expanded
            entries = [
                {**var, "value": substitute(var["value"], scope)} if "value" in var else var
                for var in container.get("env") or []
            ]
            variables = container_env(entries, {})
            argv = expand_command(argv, variables)
            env = {**self.env, **variables}
            code = self.run_container(argv, env)
            with self._lock:
                self.play.pods.append(PodRun(template["name"], argv, code))
            phase = "Succeeded" if code == 0 else "Failed"
            values = {}
            if phase == "Succeeded":
                for name, private in outputs.items():
                    values[name] = Path(private).read_text(encoding="utf-8").strip()
            return phase, values

    def run_container(self, argv: list[str], env: dict[str, str]) -> int:
        """Run one container's command as a subprocess; its exit code (tests may override)."""
        proc = subprocess.run(
            argv,
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if proc.returncode == 2:  # bad input: a spec or protocol bug, never expected
            raise PlayerError(f"{argv} exited 2:\n{proc.stderr}")
        return proc.returncode

    # -- DAGs --------------------------------------------------------------------------
    def _dag(
        self, template: dict[str, Any], scope: Mapping[str, str], templates: Mapping[str, Any]
    ) -> tuple[str, dict[str, str]]:
        tasks = {t["name"]: t for t in template["dag"]["tasks"]}
        deps = {n: depends_names(t.get("depends", "")) for n, t in tasks.items()}
        ancestors: dict[str, set[str]] = {}

        def ancestry(name: str) -> set[str]:
            if name not in ancestors:
                found: set[str] = set()
                for dep in deps[name]:
                    found |= {dep} | ancestry(dep)
                ancestors[name] = found
            return ancestors[name]

        phases: dict[str, str] = {}
        outputs: dict[str, dict[str, str]] = {}

        def task_scope(names: Sequence[str]) -> dict[str, str]:
            local = dict(scope)
            for other in names:
                local[f"tasks.{other}.status"] = phases[other]
                for key, value in outputs.get(other, {}).items():
                    local[f"tasks.{other}.outputs.parameters.{key}"] = value
            return local

        while len(phases) < len(tasks):
            ready = [n for n in tasks if n not in phases and all(d in phases for d in deps[n])]
            if not ready:
                raise PlayerError(f"DAG {template['name']!r} is stuck (cycle or missing task)")
            name = ready[0]
            task = tasks[name]
            if "depends" in task and not evaluate_depends(task["depends"], phases):
                phases[name] = "Omitted"
                continue
            local = task_scope(sorted(ancestry(name)))
            if "when" in task:
                if "withParam" in task:
                    raise PlayerError(f"task {name!r}: when with withParam is not modelled")
                if not evaluate_when(substitute(task["when"], local)):
                    phases[name] = "Skipped"
                    continue
            phases[name], outputs[name] = self._task(task, local, templates)
        phase = self._assess(tasks, deps, phases)
        values: dict[str, str] = {}
        if phase == "Succeeded":  # Argo sets a DAG's outputs only when it succeeded
            everything = task_scope(list(tasks))
            for param in (template.get("outputs") or {}).get("parameters") or []:
                source = param.get("valueFrom") or {}
                if "parameter" in source:
                    values[param["name"]] = substitute(source["parameter"], everything)
                elif "expression" in source:
                    result = evaluate_expression(source["expression"], everything)
                    values[param["name"]] = _as_text(result)
                else:
                    raise PlayerError(f"output {param['name']!r}: only valueFrom is modelled")
        return phase, values

    def _task(
        self, task: dict[str, Any], scope: dict[str, str], templates: Mapping[str, Any]
    ) -> tuple[str, dict[str, str]]:
        params = (task.get("arguments") or {}).get("parameters") or []
        target = task.get("template")
        if "templateRef" in task:
            ref = task["templateRef"]
            if ref["name"] not in self.library:
                raise PlayerError(f"no WorkflowTemplate {ref['name']!r}")
            templates, target = self.library[ref["name"]], ref["template"]
        if "withParam" not in task:
            args = {p["name"]: substitute(str(p.get("value", "")), scope) for p in params}
            return self._template(target, args, templates)
        items = json.loads(substitute(task["withParam"], scope))
        if not isinstance(items, list):
            raise PlayerError(f"withParam of {task['name']!r} is not a JSON list")
        arg_sets = []
        for item in items:
            item_scope = dict(scope)
            item_scope["item"] = item if isinstance(item, str) else json.dumps(item)
            arg_sets.append(
                {p["name"]: substitute(str(p.get("value", "")), item_scope) for p in params}
            )
        if self.concurrent and len(arg_sets) > 1:
            # like Argo, iterations run at once: their pods write the run log concurrently
            with ThreadPoolExecutor(max_workers=len(arg_sets)) as pool:
                futures = [pool.submit(self._template, target, a, templates) for a in arg_sets]
                phases = [f.result()[0] for f in futures]
        else:
            phases = [self._template(target, a, templates)[0] for a in arg_sets]
        group = next((p for p in phases if p != "Succeeded"), "Succeeded")
        return group, {}

    @staticmethod
    def _assess(
        tasks: Mapping[str, Any], deps: Mapping[str, list[str]], phases: Mapping[str, str]
    ) -> str:
        children: dict[str, list[str]] = {n: [] for n in tasks}
        for name, parents in deps.items():
            for parent in dict.fromkeys(parents):
                children[parent].append(name)
        leaves = [n for n in tasks if not children[n]]
        leaf_phase = {n: "" for n in leaves}
        queue = [(n, "Succeeded") for n in tasks if not deps[n]]
        seen = set(queue)
        while queue:
            name, branch = queue.pop(0)
            if phases[name] in COMPLETED:
                branch = phases[name]
            if name in leaf_phase and leaf_phase[name] not in ("Failed", "Error"):
                leaf_phase[name] = branch
            for child in children[name]:
                if (child, branch) not in seen:
                    seen.add((child, branch))
                    queue.append((child, branch))
        result = "Succeeded"
        for name in leaves:
            phase = leaf_phase[name]
            if phase in ("Failed", "Error"):
                continue_on = tasks[name].get("continueOn") or {}
                if continue_on.get("failed" if phase == "Failed" else "error"):
                    continue
                return phase
        return result


def magnus_shim(bin_dir: Path, python: str) -> Path:
    """A ``magnus`` executable on PATH that runs this checkout's CLI with ``python``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "magnus"
    shim.write_text(f'#!/bin/sh\nexec "{python}" -m magnus_render.cli "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return bin_dir


def play_workflow(
    docs: dict[str, Any] | Sequence[dict[str, Any]],
    workdir: Path,
    env: Mapping[str, str] | None = None,
    workflow_name: str = "argo-play",
    concurrent: bool = False,
    arguments: Mapping[str, str] | None = None,
) -> Play:
    """Play the Workflow among ``docs`` (one document, or a list whose others are its
    WorkflowTemplates) in ``workdir`` (``env`` defaults to this process's environment);
    ``arguments``: workflow arguments given at submit (``argo submit -p NAME=VALUE``)."""
    if isinstance(docs, dict):
        docs = [docs]
    workflow = next(d for d in docs if d.get("kind") == "Workflow")
    library = [d for d in docs if d.get("kind") == "WorkflowTemplate"]
    environ = env if env is not None else os.environ
    player = Player(
        workflow,
        workdir,
        environ,
        workflow_name,
        library=library,
        concurrent=concurrent,
        arguments=arguments,
    )
    return player.run()
