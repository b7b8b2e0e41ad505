"""The aws-batch executor end to end against a moto server on 127.0.0.1.

tests/batch_harness.py makes moto's Batch run each job's container command as a local
process; the run log and catalog live in the same moto server's S3. The driver runs in
this process (so a test can hook its boto3 client); every sample's run log must equal
the local executor's, and every SubmitJob body must satisfy botocore's service model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.batch_harness import BUCKET, JOB_DEFINITION, QUEUE, BatchServer, batch_server
from tests.conftest import SAMPLES
from tests.helpers.runlog import normalize, prepare_workdir, run_magnus

pytest.importorskip("moto")

SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.yaml"))


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchServer]:
    """One moto server per module (starting one costs seconds); runs differ by run id."""
    with batch_server(tmp_path_factory.mktemp("batch")) as server:
        yield server


@pytest.fixture
def batch(shared_server: BatchServer, tmp_path: Path) -> BatchServer:
    """The shared server, its jobs running in this test's own work directory."""
    shared_server.workdir = prepare_workdir(tmp_path / "work")
    shared_server.runs.clear()
    shared_server.max_running = 0
    shared_server.hold.clear()
    return shared_server


def write_config(server: BatchServer, name: str = "batch-config.yaml", **settings: Any) -> Path:
    executor = {
        "job_queue": QUEUE,
        "job_definition": JOB_DEFINITION,
        "endpoint_url": server.endpoint,
        "region": "us-east-1",
        "parallelism": 2,
        "poll_initial_seconds": 0.05,
        "poll_max_seconds": 0.4,
        **settings,
    }
    s3 = {"bucket": BUCKET, "endpoint_url": server.endpoint, "region": "us-east-1"}
    config = {
        "executor": {"type": "aws-batch", "config": executor},
        "run_log_store": {"type": "s3", "config": {**s3, "prefix": "run-logs"}},
        "catalog": {"type": "s3", "config": {**s3, "prefix": "catalog"}},
    }
    path = server.workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def local_run(workdir: Path, pipeline: str) -> tuple[int, dict[str, Any]]:
    from tests.helpers.runlog import load_run_log

    proc = run_magnus(["execute", pipeline, "--run-id", "local-run"], workdir)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, normalize(load_run_log(workdir, "local-run"))


class Driver:
    """The driver in this process, in the work directory; its executor stays inspectable."""

    def __init__(self, server: BatchServer, pipeline: str, config: Path, run_id: str) -> None:
        self.server, self.pipeline, self.config, self.run_id = server, pipeline, config, run_id
        self.requests: list[dict[str, Any]] = []
        self.executor: Any = None

    def run(self, hook: Any = None) -> int:
        from magnus_render.runtime.executors import aws_batch
        from magnus_render.runtime.executors.k8s_job import drive

        original = aws_batch.AwsBatchExecutor.submit_request
        driver = self

        def recording(executor: Any, *args: Any) -> dict[str, Any]:
            driver.executor = executor
            if hook is not None and not getattr(executor, "_hooked", False):
                executor._hooked = True
                hook(executor)
            request = original(executor, *args)
            driver.requests.append(request)
            return request

        cwd = os.getcwd()
        os.chdir(self.server.workdir)
        aws_batch.AwsBatchExecutor.submit_request = recording  # type: ignore[method-assign]
        try:
            return drive(self.pipeline, str(self.config), None, self.run_id)
        finally:
            aws_batch.AwsBatchExecutor.submit_request = original  # type: ignore[method-assign]
            os.chdir(cwd)

    def run_log(self) -> dict[str, Any]:
        from tests.helpers.runlog import load_run_log

        return normalize(load_run_log(self.server.workdir, self.run_id, self.config))


def validate_submit(request: dict[str, Any]) -> None:
    """Raise if botocore's Batch model rejects the SubmitJob parameters."""
    import botocore.session
    from botocore.validate import validate_parameters

    model = botocore.session.get_session().get_service_model("batch")
    validate_parameters(request, model.operation_model("SubmitJob").input_shape)


@pytest.mark.parametrize("sample", SAMPLE_NAMES)
def test_sample_run_log_equals_local(batch: BatchServer, sample: str) -> None:
    code, local = local_run(batch.workdir, f"samples/{sample}.yaml")
    run_id = f"batch-{sample}"
    driver = Driver(batch, f"samples/{sample}.yaml", write_config(batch), run_id)
    assert driver.run() == code
    assert driver.run_log() == local
    names = [r["jobName"] for r in driver.requests]
    assert len(names) == len(set(names)) == len(batch.runs) > 0
    for request in driver.requests:
        validate_submit(request)
        assert request["containerOverrides"]["command"][:3] == [
            "magnus",
            "execute_single_node",
            run_id,
        ]
    assert batch.max_running <= 2  # the parallelism bound holds
    if sample == "failing":
        assert code == 1 and any(r["code"] for r in batch.runs)
