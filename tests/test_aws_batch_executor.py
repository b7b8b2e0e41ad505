"""The aws-batch executor end to end against a moto server on 127.0.0.1.

tests/batch_harness.py makes moto's Batch run each job's container command as a local
process; the run log and catalog live in the same moto server's S3. The driver runs in
this process (so a test can hook its boto3 client); every sample's run log must equal
the local executor's, and every SubmitJob body must satisfy botocore's service model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.batch_harness import BatchServer, Driver, batch_server, local_run, write_config
from tests.conftest import SAMPLES
from tests.helpers.deps import require
from tests.helpers.runlog import prepare_workdir

require("moto")

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
        command = request["containerOverrides"]["command"]
        assert command[:2] == ["magnus", "execute_single_node"]
        assert command[-3:-1] == ["--", run_id]  # positionals last, after --
    assert batch.max_running <= 2  # the parallelism bound holds
    if sample in ("parallel", "map"):  # and branches really run side by side
        assert batch.max_running == 2
    if sample == "failing":
        assert code == 1 and any(r["code"] for r in batch.runs)
