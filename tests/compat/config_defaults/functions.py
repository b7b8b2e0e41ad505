import os
from pathlib import Path

from magnus import get_run_id, get_run_log, get_tag


def identify():
    run_id = get_run_id()
    assert run_id == os.environ["MAGNUS_RUN_ID"] == "compat-run"
    assert get_tag() == "nightly"
    log = get_run_log()
    assert log.run_id == run_id and log.tag == "nightly"
    Path(f"identity-{run_id}.txt").write_text(run_id)
    return {"seen_run_id": run_id}
