"""Test-only AWS stand-ins: a moto server on 127.0.0.1 and the ASL interpreter harness.

The server is real HTTP (``moto[server]``, pinned to 5.2.5 in the dev extra), run in a
child process (``python -m tests.sfn_harness``) so its request threads do not share a GIL
with the test's own writers. The code under test talks to it through boto3 exactly as it
would to AWS; nothing in the package is patched.

With ``route_tasks=True`` the child also switches on moto's Step Functions interpreter
(``execute_state_machine``) and routes Batch/ECS ``.sync`` task states to a local
subprocess running the container command in ``workdir``: moto 5.2.5's own Batch and ECS
integrations fail (they pass parameters in ASL casing). Exit 0 is a succeeded job; any
other exit fails the state with ``States.TaskFailed``, as a failed Batch job does.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.runlog import KEPT

ROOT = Path(__file__).resolve().parent.parent

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
ROLE_ARN = "arn:aws:iam::123456789012:role/magnus-test"


@dataclass(frozen=True)
class MotoServer:
    endpoint: str
    port: int
    log: Path | None = None

    def client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session().client(
            service, endpoint_url=self.endpoint, region_name="us-east-1"
        )

    def env(self) -> dict[str, str]:
        """Environment for processes that talk to this server: fake credentials and every
        AWS endpoint pointed here."""
        return {
            **FAKE_ENV,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "MOTO_PORT": str(self.port),
        }

    def tasks(self) -> list[dict[str, Any]]:
        """What the routed task states ran: one record per container (command, exit code)."""
        if self.log is None or not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


@contextlib.contextmanager
def moto_server(
    route_tasks: bool = False,
    workdir: Path | None = None,
    container_env: dict[str, str] | None = None,
    endpoint_env: bool = True,
) -> Iterator[MotoServer]:
    """A moto server on 127.0.0.1 (OS-chosen port) in a child process; stopped afterwards.

    Fake credentials are set in this process for the duration, so boto3 clients made here
    never reach for real ones. ``endpoint_env=False``: the containers get no
    ``AWS_ENDPOINT_URL*``, so only the config's ``endpoint_url`` can lead them here.
    """
    saved = {k: os.environ.get(k) for k in FAKE_ENV}
    os.environ.update(FAKE_ENV)
    log = (workdir / "routed-tasks.jsonl") if (route_tasks and workdir) else None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAGNUS_", "AWS_"))}
    env.update({k: os.environ[k] for k in KEPT if k in os.environ})  # the test pipeline cache
    env.update(FAKE_ENV)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    argv = [sys.executable, "-m", "tests.sfn_harness"]
    if route_tasks:
        if workdir is None:
            raise ValueError("route_tasks needs a workdir for the containers")
        argv += ["--route-tasks", str(workdir), "--log", str(log)]
        env["SFN_HARNESS_CONTAINER_ENV"] = json.dumps(container_env or {})
        if not endpoint_env:
            env["SFN_HARNESS_NO_ENDPOINT_ENV"] = "1"
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"moto server did not start (said {line!r})")
        port = int(line)
        yield MotoServer(f"http://127.0.0.1:{port}", port, log)
    finally:
        if proc.stdin:
            proc.stdin.close()  # the child exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_execution(
    server: MotoServer,
    definitions: dict[str, dict[str, Any]],
    run_id: str,
    timeout: float = 180,
    execution_input: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the state machine(s) (unless they exist), start an execution named ``run_id``
    of the first one with ``execution_input``, wait for it to end; returns
    describe_execution's answer."""
    sfn = server.client("stepfunctions")
    existing = {m["name"]: m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    arns = {}
    for name, definition in definitions.items():
        if name in existing:
            arns[name] = existing[name]
            continue
        created = sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=ROLE_ARN
        )
        arns[name] = created["stateMachineArn"]
    main = next(iter(arns.values()))
    text = json.dumps(execution_input or {})
    execution = sfn.start_execution(stateMachineArn=main, name=run_id, input=text)
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {run_id} still RUNNING after {timeout} s")
        time.sleep(0.2)


# -- the child process ------------------------------------------------------------------
def _command_of(parameters: Any) -> list[str] | None:
    """The container command in Batch or ECS parameters, whatever their key casing."""
    if isinstance(parameters, dict):
        for key, value in parameters.items():
            if key.lower() == "command" and isinstance(value, list):
                return [str(v) for v in value]
            found = _command_of(value)
            if found is not None:
                return found
    if isinstance(parameters, list):
        for value in parameters:
            found = _command_of(value)
            if found is not None:
                return found
    return None


def _install_routing(workdir: Path, log: Path, port: int) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as batch,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as ecs,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn as sfn,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    container_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MAGNUS_") or k in KEPT},
        **json.loads(os.environ.get("SFN_HARNESS_CONTAINER_ENV", "{}")),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
    }
    if os.environ.get("SFN_HARNESS_NO_ENDPOINT_ENV"):
        for key in list(container_env):
            if key.startswith("AWS_ENDPOINT_URL") or key == "SFN_HARNESS_NO_ENDPOINT_ENV":
                container_env.pop(key)
    lock = threading.Lock()

    def eval_service_task(
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    ):
        command = _command_of(normalised_parameters)
        if not command or command[0] != "magnus":
            raise RuntimeError(f"harness: no magnus command in {normalised_parameters}")
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "magnus_render.cli", *command[1:]],
            cwd=workdir,
            env=container_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        record = {
            "command": command,
            "exit": proc.returncode,
            "seconds": round(time.monotonic() - started, 3),
            "stderr": proc.stderr[-2000:],
        }
        with lock, open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        env.stack.append({"JobName": command[-1] if "--" in command else "", **record})

    def build_sync_resolver(
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    ):
        result = env.stack.pop()

        def resolve() -> dict[str, Any]:
            if result["exit"] == 0:
                return {"Status": "SUCCEEDED", "JobName": result["JobName"]}
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=json.dumps(
                                {
                                    "Status": "FAILED",
                                    "ExitCode": result["exit"],
                                    "JobName": result["JobName"],
                                }
                            ),
                        )
                    ),
                )
            )

        return resolve

    for cls in (batch.StateTaskServiceBatch, ecs.StateTaskServiceEcs):
        cls._eval_service_task = eval_service_task
        cls._build_sync_resolver = build_sync_resolver

    def start_execution(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        """moto 5.2.5 passes startExecution's parameters in ASL casing too; call it with
        boto3's names (nested machines of a split definition need this)."""
        client = boto_client_for(
            region=resource_runtime_part.region,
            service="stepfunctions",
            state_credentials=state_credentials,
        )
        kwargs = {key[0].lower() + key[1:]: value for key, value in normalised_parameters.items()}
        if not isinstance(kwargs.get("input", ""), str):
            kwargs["input"] = json.dumps(kwargs["input"])
        response = client.start_execution(**kwargs)
        env.stack.append({"ExecutionArn": response["executionArn"]})

    sfn.StateTaskServiceSfn._eval_service_task = start_execution
    original_sync2 = sfn.StateTaskServiceSfn._build_sync2_resolver

    def sync2_resolver(self, *args, **kwargs):
        """...and answers in boto3's casing, where AWS answers ``Output``, ``Status``."""
        resolve = original_sync2(self, *args, **kwargs)

        def pascal() -> Any:
            result = resolve()
            if isinstance(result, dict):
                return {key[0].upper() + key[1:]: value for key, value in result.items()}
            return result

        return pascal

    sfn.StateTaskServiceSfn._build_sync2_resolver = sync2_resolver


def _serve(argv: list[str]) -> None:
    import argparse
    import logging
    import urllib.request

    from moto.server import ThreadedMotoServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--route-tasks", type=Path)
    parser.add_argument("--log", type=Path)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    os.environ["MOTO_PORT"] = str(port)  # the interpreter's own S3/SFN calls go here
    if args.route_tasks is not None:
        _install_routing(args.route_tasks, args.log, port)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).read()
    print(port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    server.stop()


if __name__ == "__main__":
    _serve(sys.argv[1:])
