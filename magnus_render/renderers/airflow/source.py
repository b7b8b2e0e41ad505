"""The fixed parts of the DAG file around the tasks the writer emits: docstring, imports
(Airflow 3 paths first, then Airflow 2.10's), constants, helpers and the ``with DAG`` line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magnus_render.pipeline.ir import NodeKind
from magnus_render.renderers.airflow import emit
from magnus_render.renderers.airflow.pods import pod_lines

if TYPE_CHECKING:
    from magnus_render.renderers.airflow import AirflowRenderer
    from magnus_render.renderers.airflow.settings import AirflowSettings

_IMPORTS_BASH = """\
try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, Param, TaskGroup
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.models.param import Param
    from airflow.operators.bash import BashOperator
    from airflow.operators.empty import EmptyOperator
    from airflow.operators.python import PythonOperator
    from airflow.utils.task_group import TaskGroup
"""

_IMPORTS_KPO = """\
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret
from kubernetes.client import models as k8s

try:  # Airflow 3
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, Param, TaskGroup
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.models.param import Param
    from airflow.operators.empty import EmptyOperator
    from airflow.utils.task_group import TaskGroup
"""

_ROUTES = '''

def succeeded(task: Any) -> Any:
    """``<step>__succeeded``: SUCCESS when the step succeeded, else skipped or
    upstream_failed; steps wait on ``one_done``, which counts only SUCCESS here."""
    name = task.task_id.rsplit(".", 1)[-1]
    route = EmptyOperator(task_id=f"{name}__succeeded", trigger_rule="all_success")
    task >> route
    return route


def failed(task: Any) -> Any:
    """``<step>__failed``: SUCCESS when the step failed, else skipped."""
    name = task.task_id.rsplit(".", 1)[-1]
    route = EmptyOperator(task_id=f"{name}__failed", trigger_rule="all_failed")
    task >> route
    return route
'''


def _step_head(pod_parameter: str, doc: str) -> str:
    """The head of the DAG file's ``step`` function; the two operators differ after it."""
    return (
        "\n\ndef step(\n    task_id: str,\n    name: str,\n    script: str = NODE,\n"
        f"    env: dict[str, str] | None = None,\n{pod_parameter}"
        '    trigger_rule: str = "one_done",\n) -> Any:\n'
        f'    """{doc}"""\n'
        "    variables = {RUN_ID_VAR: RUN_ID, USE_CACHED_VAR: USE_CACHED, STEP_VAR: name, "
        "**(env or {})}\n"
    )


_STEP_BASH = (
    _step_head(
        "", "The task of one step (or fan-out/fan-in): runs ``script`` with bash in WORKING_DIR."
    )
    + '''    if script is FAN_OUT_ITEMS:
        return PythonOperator(
            task_id=task_id,
            python_callable=map_items,
            op_kwargs={"env": variables},
            trigger_rule=trigger_rule,
            retries=0,
        )
    return BashOperator(
        task_id=task_id,
        bash_command=script,
        env=variables,
        append_env=True,
        cwd=WORKING_DIR,
        trigger_rule=trigger_rule,
        retries=0,
    )


def map_items(env: dict[str, str]) -> list[dict[str, str]]:
    """A map's fan-out: ``magnus fan --mode out`` writes the items; XCom gets one
    environment per item (this task's, plus the item as the map variable)."""
    with tempfile.TemporaryDirectory() as folder:
        items = os.path.join(folder, "items.json")
        variables = {**os.environ, **env, ITEMS_VAR: items}
        subprocess.run(["bash", "-c", FAN_OUT_ITEMS], env=variables, cwd=WORKING_DIR, check=True)
        with open(items, encoding="utf-8") as handle:
            return [{**env, MAP_VARIABLE_VAR: item} for item in json.load(handle)]


def iterate(task_id: str, fan_out: Any) -> Any:
    """One task per map item (dynamic task mapping), each traversing its iteration's
    branch; each gets its environment from the fan-out's XCom."""
    return BashOperator.partial(
        task_id=task_id,
        bash_command=ITERATION,
        append_env=True,
        cwd=WORKING_DIR,
        retries=0,
    ).expand(env=fan_out.output)
'''
)

_STEP_KPO = (
    _step_head(
        "    pod: dict[str, Any] = POD,\n",
        "The task of one step (or fan-out/fan-in): a pod running ``script`` with sh.",
    )
    + '''    settings = {**pod, "env_vars": {**pod.get("env_vars", {}), **variables}}
    if script is FAN_OUT_ITEMS:  # the iterations' pods get the pod's env through XCom
        settings["env_vars"][POD_ENV_VAR] = json.dumps(pod.get("env_vars", {}))
    return KubernetesPodOperator(
        task_id=task_id,
        name=task_id.replace(".", "-").replace("_", "-"),
        cmds=["sh", "-c", script],
        do_xcom_push=script is FAN_OUT_ITEMS,
        trigger_rule=trigger_rule,
        retries=0,
        **settings,
    )


def iterate(task_id: str, fan_out: Any, pod: dict[str, Any] = POD) -> Any:
    """One pod per map item (dynamic task mapping), each traversing its iteration's
    branch; each gets its environment from the fan-out's XCom."""
    settings = {k: v for k, v in pod.items() if k != "env_vars"}
    return KubernetesPodOperator.partial(
        task_id=task_id,
        name=task_id.replace(".", "-").replace("_", "-"),
        cmds=["sh", "-c", ITERATION],
        retries=0,
        **settings,
    ).expand(env_vars=fan_out.output)
'''
)


def dag_file(
    r: AirflowRenderer,
    settings: AirflowSettings,
    body: list[str],
    working_dir: str,
    scripts: dict[str, str],
) -> str:
    pipeline = r.pipeline
    dag_id = settings.dag_id or _dag_id(Path(r.options.pipeline_file).stem)
    schedule = r.options.extra.get("schedule") or settings.schedule
    description = pipeline.graph.description or f"magnus pipeline {r.options.pipeline_file}"
    kpo = r.kpo
    out: list[str] = [
        "# Generated by magnus-render --target airflow; do not edit, re-render. Pipeline:",
        f"# {json.dumps(r.options.pipeline_file)}",
        f'"""{_doc(description)}',
        "",
        "Each step is a task running `magnus execute_single_node`; magnus keeps the run log.",
        'Trigger `airflow dags trigger --conf \'{"use_cached": "OLD_RUN_ID"}\'` to re-run',
        "reusing an earlier run's successes; `run_id` in the conf names the magnus run.",
        "Routes: a step runs when one route into it fired (see succeeded() and failed()).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import datetime",
    ]
    out.append("import json")
    if not kpo:
        out += ["import os", "import subprocess", "import tempfile"]
    out += ["from typing import Any", ""]
    imports = _IMPORTS_KPO if kpo else _IMPORTS_BASH
    if not any(
        n.kind in (NodeKind.PARALLEL, NodeKind.DAG) and not n.in_map_depth
        for n in pipeline.graph.walk()
    ):
        imports = imports.replace(", TaskGroup\n", "\n").replace(
            "    from airflow.utils.task_group import TaskGroup\n", ""
        )
    out.append(imports.rstrip("\n"))
    out += ["", f"PIPELINE = {r.options.pipeline_file!r}"]
    if not kpo:
        out.append(f"WORKING_DIR = {working_dir!r}")
    out += [
        f"RUN_ID_VAR = {emit.ENV_RUN_ID!r}",
        f"USE_CACHED_VAR = {emit.ENV_USE_CACHED!r}",
        f"STEP_VAR = {emit.ENV_STEP!r}",
        f"MAP_VARIABLE_VAR = {emit.ENV_MAP_VARIABLE!r}",
    ]
    out.append(f"ITEMS_VAR = {emit.ENV_ITEMS!r}" if not kpo else f"POD_ENV_VAR = {emit.ENV_POD!r}")
    out += [
        "#: the magnus run id: the run_id conf value, else the DAG run's, made legal for magnus",
        f"RUN_ID = {_string(emit.RUN_ID_TEMPLATE)}",
        f"USE_CACHED = {emit.USE_CACHED_TEMPLATE!r}",
        'RUN_ID_HELP = "magnus run id (default: the DAG id and the DAG run id)"',
        'USE_CACHED_HELP = "re-run: reuse this earlier magnus run\'s successes"',
        "",
        "# What the tasks run (POSIX shell; the words are quoted for it).",
    ]
    for key in ("node", "fail", "as_is", "iteration", "fan_out", "fan_out_items", "fan_in"):
        out.append(f"{key.upper()} = {_string(scripts[key])}")
    params = initial_parameters(r)
    out += [
        "",
        "#: the pipeline's initial parameters, as DAG params (the conf overrides them); the",
        "#: first step creates the run log and reads them as MAGNUS_PRM_<name> (JSON)",
        *_initial_lines(params),
    ]
    if kpo:
        for name, pod in r.pods():
            out += ["", f"{name}: dict[str, Any] = {{", *pod_lines(pod), "}"]
        out.append("")
    out.append((_STEP_KPO if kpo else _STEP_BASH).rstrip("\n"))
    out.append(_ROUTES.rstrip("\n"))
    start = settings.start_date
    param_lines = [
        '        "run_id": Param("", type="string", description=RUN_ID_HELP),',
        '        "use_cached": Param("", type="string", description=USE_CACHED_HELP),',
        *(f"        {k!r}: Param({_py(v)})," for k, v in sorted(params.items())),
    ]
    tags = sorted({"magnus", *settings.tags})
    out += [
        "",
        "",
        "with DAG(",
        f"    dag_id={dag_id!r},",
        f"    description={description!r},",
        f"    schedule={schedule!r},",
        f"    start_date=datetime.datetime({start.year}, {start.month}, {start.day}, "
        "tzinfo=datetime.timezone.utc),",
        "    catchup=False,",
        f"    tags={tags!r},",
        f"    default_args={{'owner': {settings.owner!r}, 'retries': 0}},",
        "    params={",
        *param_lines,
        "    },",
        ") as dag:",
        *body,
        "",
    ]
    return "\n".join(out)


def _initial_lines(params: dict[str, Any]) -> list[str]:
    if not params:
        return ["INITIAL_PARAMETERS: dict[str, str] = {}"]
    return [
        "INITIAL_PARAMETERS: dict[str, str] = {",
        *(f"    {('MAGNUS_PRM_' + name)!r}: {_jinja_param(name)!r}," for name in sorted(params)),
        "}",
    ]


def _dag_id(stem: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:250] or "magnus"


def _doc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').splitlines()[0] if text else ""


def _string(text: str, width: int = 84) -> str:
    """A Python literal for a long string: implicitly joined pieces of at most ``width``
    characters, cut after spaces where possible (ruff's line length holds)."""
    if len(text) <= width - 12:
        return repr(text)
    pieces: list[str] = []
    rest = text
    while rest:
        cut = len(rest) if len(rest) <= width else rest.rfind(" ", 1, width) + 1 or width
        if "\n" in rest[:cut]:
            cut = rest.index("\n") + 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
    return "(\n" + "".join(f"    {p!r}\n" for p in pieces) + ")"


def _py(value: Any) -> str:
    """A JSON value as a Python literal (True/False/None spelled Python's way)."""
    return repr(value)


def _jinja_param(name: str) -> str:
    return "{{ params[" + json.dumps(name) + "] | tojson }}"


def initial_parameters(r: AirflowRenderer) -> dict[str, Any]:
    path = r.options.parameters_file
    if not path:
        return {}
    from magnus_render.config import read_yaml_file
    from magnus_render.errors import MagnusError

    data, _ = read_yaml_file(Path(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MagnusError("the parameters file must hold a mapping", path)
    return dict(data)
