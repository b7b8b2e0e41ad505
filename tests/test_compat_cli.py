"""magnus 0.5 command lines keep working: `magnus execute` with no file (pipeline.yaml),
`--log-level`, and the one-step jobs `execute_function` / `execute_notebook`."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.deps import require
from tests.test_compat_projects import magnus, only_run, project


def test_execute_defaults_to_pipeline_yaml_and_accepts_log_level(tmp_path: Path) -> None:
    workdir = project("simple", tmp_path)
    result = magnus(workdir, "execute", "--log-level", "WARNING", "--run-id", "default-file")
    assert result.returncode == 0, result.stderr
    log = only_run(workdir)
    assert log.run_id == "default-file" and log.status.value == "SUCCESS"
    assert log.run_config["pipeline_file"] == "pipeline.yaml"


def test_execute_without_pipeline_yaml_names_it(tmp_path: Path) -> None:
    result = magnus(tmp_path, "execute")
    assert result.returncode == 2
    assert "pipeline.yaml: file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_execute_function_job(tmp_path: Path) -> None:
    workdir = project("catalog", tmp_path)
    result = magnus(
        workdir, "execute_function", "functions.create", "-put", "hello.txt", "--tag", "job"
    )
    assert result.returncode == 0, result.stderr
    log = only_run(workdir)
    assert list(log.steps) == ["executing job", "success"]
    step = log.steps["executing job"]
    assert step.status.value == "SUCCESS" and log.tag == "job"
    # magnus 0.5: -put globs are relative to --data-folder, default data/
    assert ("data/hello.txt", "put") in {(e.name, e.stage) for e in step.data_catalog}


def test_execute_function_failure_exits_1(tmp_path: Path) -> None:
    workdir = project("traversal", tmp_path)
    result = magnus(workdir, "execute_function", "functions.raise_exception")
    assert result.returncode == 1
    assert only_run(workdir).steps["executing job"].status.value == "FAIL"


def test_execute_function_bad_command_is_exit_2(tmp_path: Path) -> None:
    result = magnus(tmp_path, "execute_function", "not_dotted")
    assert result.returncode == 2
    assert result.stderr.startswith("error: step 'executing job': a python command must be")
    assert "cli.py" not in result.stderr


def test_execute_function_data_folder_outside_the_compute_folder_is_refused(
    tmp_path: Path,
) -> None:
    result = magnus(
        tmp_path, "execute_function", "functions.hello", "-d", "../elsewhere/", "-put", "x"
    )
    assert result.returncode == 2 and "compute_data_folder" in result.stderr


def test_execute_function_put_relative_to_its_data_folder(tmp_path: Path) -> None:
    """magnus 0.5: ``-d sub/ -put GLOB`` puts ``sub/GLOB`` (names relative to the
    catalog's compute_data_folder, the working directory by default)."""
    workdir = project("catalog", tmp_path)
    (workdir / "funcs2.py").write_text(
        "from pathlib import Path\n\n\ndef make():\n"
        "    Path('out').mkdir()\n    Path('out/a.txt').write_text('a')\n"
    )
    result = magnus(workdir, "execute_function", "funcs2.make", "-d", "out/", "-put", "*.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    step = only_run(workdir).steps["executing job"]
    assert ("out/a.txt", "put") in {(e.name, e.stage) for e in step.data_catalog}


def test_execute_notebook_job(tmp_path: Path) -> None:
    require("ploomber_engine")
    workdir = project("notebooks", tmp_path)
    (workdir / "params.yaml").write_text("count: 3\nname: job\n")
    result = magnus(workdir, "execute_notebook", "notebook.ipynb", "-p", "params.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    log = only_run(workdir)
    assert log.parameters["greeting"] == "hello job"
    names = {e.name for e in log.steps["executing job"].data_catalog}
    assert "notebook_out.ipynb" in names


def test_execute_notebook_needs_ipynb(tmp_path: Path) -> None:
    result = magnus(tmp_path, "execute_notebook", "notebook.py")
    assert result.returncode == 2 and ".ipynb" in result.stderr
