"""A tracker URL with a basic-auth password (``http://user:token@host``): when the tracker
cannot be reached, mlflow's error quotes the URL whole, and that password went to stderr
and into the step's message in the run log. The reason is kept, the credentials hidden."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.helpers.deps import require
from tests.helpers.runlog import run_magnus

PIPELINE = """
dag:
  start_at: a
  steps:
    a:
      type: task
      command_type: shell
      command: 'export MAGNUS_TRACK_loss=0.5'
      next: success
    success: {type: success}
    fail: {type: fail}
"""


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, then closed: a connection is refused at once
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_tracker_fails_the_step_without_printing_its_password(
    tmp_path: Path,
) -> None:
    require("mlflow")
    url = f"http://user:hunter2@127.0.0.1:{_closed_port()}/"
    (tmp_path / "p.yaml").write_text(PIPELINE, encoding="utf-8")
    config = f'experiment_tracker:\n  type: mlflow\n  config: {{server_url: "{url}"}}\n'
    (tmp_path / "c.yaml").write_text(config, encoding="utf-8")
    env = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    proc = run_magnus(["execute", "p.yaml", "-c", "c.yaml", "--run-id", "r"], tmp_path, env)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "experiment tracker: MlflowException" in proc.stderr
    assert "http://***@127.0.0.1" in proc.stderr
    shown = run_magnus(["show", "r", "--json"], tmp_path)
    assert "experiment tracker: MlflowException" in shown.stdout
    for text in (proc.stdout, proc.stderr, shown.stdout):
        assert "hunter2" not in text
    assert not [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and b"hunter2" in p.read_bytes() and p.name != "c.yaml"
    ]
