"""The re-run and submit-time parameter scenario every target's test plays.

``TASKS``/``PIPELINE``: ``first`` -> a map over ``items`` (``work`` per item) -> ``middle``
(fails until a ``fixed`` file exists) -> ``last``. Every task appends to its counter file
``count-<name>``, so a test sees which steps really ran in each run.
``GREET``: one task that writes the ``greeting`` parameter it got to ``greeting-seen``.
The working folder also holds ``argo.yaml`` and ``k8s.yaml``: stores on a declared volume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.runlog import execute_in_process, normalize, prepare_workdir
from tests.helpers.shared_stores import shared_argo_yaml

#: the k8s-jobs config: a PVC mounted at the working folder holds both stores
K8S_CONFIG = """
executor:
  type: k8s-job
  config:
    image: local/magnus:test
    parallelism: 2
    api_retries: 3
    pvc_mounts: [{{claim_name: magnus-data, mount_path: '{mount}'}}]
run_log_store: {{type: file-system, config: {{log_folder: '{mount}/.run_log_store'}}}}
catalog: {{type: file-system, config: {{catalog_location: '{mount}/.catalog'}}}}
"""

TASKS = """
import json
from pathlib import Path


def _count(name):
    path = Path(f"count-{name}")
    path.write_text(path.read_text() + "x" if path.exists() else "x")


def first():
    _count("first")
    return {"items": [1, 2]}


def work(item: int):
    _count(f"work-{item}")
    return {"doubled": item * 2}


def middle(doubled: list):
    _count("middle")
    if not Path("fixed").exists():
        raise RuntimeError("middle is broken")
    return {"total": sum(doubled)}


def last(total: int):
    _count("last")
    return {"final": total + 1}


def greet(greeting):
    Path("greeting-seen").write_text(json.dumps(greeting))
"""

PIPELINE = """
dag:
  start_at: first
  steps:
    first: {type: task, command: rerun_tasks.first, next: each}
    each:
      type: map
      iterate_on: items
      iterate_as: item
      next: middle
      branch:
        start_at: work
        steps:
          work: {type: task, command: rerun_tasks.work, next: success}
          success: {type: success}
          fail: {type: fail}
    middle: {type: task, command: rerun_tasks.middle, next: last}
    last: {type: task, command: rerun_tasks.last, next: success}
    success: {type: success}
    fail: {type: fail}
"""

GREET = """
dag:
  start_at: greet
  steps:
    greet: {type: task, command: rerun_tasks.greet, next: success}
    success: {type: success}
    fail: {type: fail}
"""

#: the steps' counter files after the failed run and after the re-run
COUNTERS = ("first", "work-1", "work-2", "middle", "last")
AFTER_FAILED_RUN = {"first": "x", "work-1": "x", "work-2": "x", "middle": "x", "last": None}
AFTER_RERUN = {"first": "x", "work-1": "x", "work-2": "x", "middle": "xx", "last": "x"}


def workdir(path: Path) -> Path:
    """A working directory holding the tasks, the pipelines and samples/."""
    work = prepare_workdir(path)
    (work / "rerun_tasks.py").write_text(TASKS, encoding="utf-8")
    (work / "rerun.yaml").write_text(PIPELINE, encoding="utf-8")
    (work / "greet.yaml").write_text(GREET, encoding="utf-8")
    (work / "greeting.yaml").write_text("greeting: hello\n", encoding="utf-8")
    # the cluster targets render only stores every pod reaches: the folder stands in for
    # the volume every pod mounts (tests/helpers/shared_stores.py)
    (work / "argo.yaml").write_text(shared_argo_yaml(work), encoding="utf-8")
    (work / "k8s.yaml").write_text(K8S_CONFIG.format(mount=work), encoding="utf-8")
    return work


def counters(work: Path) -> dict[str, str | None]:
    return {
        name: (work / f"count-{name}").read_text() if (work / f"count-{name}").exists() else None
        for name in COUNTERS
    }


def local_rerun(path: Path, config_text: str | None = None) -> tuple[Any, Any]:
    """The reference: ``magnus execute`` fails, is fixed, then ``--use-cached``; both logs."""
    work = workdir(path)
    code, old = execute_in_process("rerun.yaml", work, "old", config_text)
    assert code == 1
    (work / "fixed").write_text("", encoding="utf-8")
    code, new = execute_in_process("rerun.yaml", work, "new", config_text, use_cached="old")
    assert code == 0
    assert counters(work) == AFTER_RERUN
    return normalize(old), normalize(new)


def check_rerun_log(new: Any, old_run_id: str) -> None:
    """What every target's re-run log shows besides equality with the local one."""
    assert new.use_cached and new.original_run_id == old_run_id
    assert new.steps["first"].mock and not new.steps["middle"].mock
    reused = new.steps["first"].message
    assert old_run_id in reused and "attempt 1" in reused
    work = {n: b.steps[f"{n}.work"].mock for n, b in new.steps["each"].branches.items()}
    assert work == {"each.1": True, "each.2": True}
    assert new.parameters["final"] == 7
