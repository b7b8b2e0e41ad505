#!/usr/bin/env bash
# Creates the Airflow virtual environments the Airflow tests use (tests/airflow_harness.py):
#   .venv-airflow   Apache Airflow 2.10.5 (the oldest supported), conformance with `dags test`
#   .venv-airflow3  Apache Airflow 3.1.8, DagBag import and one conformance run
# each with the cncf-kubernetes provider (KubernetesPodOperator). Airflow's pins conflict
# with the dev extra, so it never shares the project's venv: rendered DAGs call back into
# the project's own interpreter. The versions are pinned by the constraints files beside
# this script (a `pip freeze` of a working install; PyPI only). Idempotent: an existing
# venv with the right Airflow is kept. About 4-5 minutes per venv on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

make_venv() {  # make_venv DIR CONSTRAINTS AIRFLOW_VERSION
  local dir=$1 constraints=$2 version=$3
  if [[ -x $dir/bin/airflow ]] && "$dir/bin/python" -c "import airflow, sys; sys.exit(airflow.__version__ != '$version')" 2>/dev/null; then
    return 0
  fi
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$constraints"
}

# Both at once: the installs wait mostly on downloads, so together they take about the
# time of one. Each pid is waited for by itself, so either failing fails the script.
make_venv .venv-airflow .ci/airflow2-constraints.txt 2.10.5 &
two=$!
make_venv .venv-airflow3 .ci/airflow3-constraints.txt 3.1.8 &
three=$!
wait "$two"
wait "$three"
