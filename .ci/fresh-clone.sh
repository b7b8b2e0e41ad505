#!/usr/bin/env bash
# A fresh clone passes its own tests (issue 14). Clones HEAD into an empty folder under /tmp
# (no shared/ beside it or above it, nothing installed), installs it into a new venv as the
# README says, runs a fast representative subset of the suite there, then checks that the
# wheel ships the Argo schemas and `--validate` uses them outside any checkout.
# Called by .ci/run after the README's test command; also runnable alone.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/magnus-fresh-clone.XXXXXX)"
trap 'rm -rf "$work"' EXIT
clone="$work/magnus-render"
git clone --quiet --no-hardlinks "$repo" "$clone"
git -C "$clone" checkout --quiet --detach "$(git -C "$repo" rev-parse HEAD)"
cd "$clone"
beside=shared  # the developers' folder next to the repository must not be reachable here
[ ! -e "../$beside" ] && [ ! -e "../../$beside" ] || { echo "fresh clone: a $beside/ folder is reachable" >&2; exit 1; }

python3 -m venv "$work/venv"
export PATH="$work/venv/bin:$PATH" VIRTUAL_ENV="$work/venv"
unset MAGNUS_ARGO_SCHEMA_DIR PYTHONPATH

# The README's install step, then a fast subset: Argo schemas, shellcheck and graph
# goldens, CLI behaviour, config checks, and runtime tests through real processes.
python3 -m pip install -q -e '.[dev]'
python3 -m pytest -q -p no:cacheprovider -n 2 \
  tests/test_argo_schemas.py tests/test_argo_render.py \
  tests/test_shell_golden.py tests/test_graph_golden.py \
  tests/test_cli_flags.py tests/test_config_types.py tests/test_smoke.py \
  tests/test_runtime_protocol.py tests/test_render_cli_behaviour.py

# An installed wheel (not the checkout) validates Argo specs with its own schemas.
python3 -m pip wheel -q --no-deps -w "$work/dist" .
python3 - "$work"/dist/magnus_render-*.whl <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
for version in ("v3.7.18", "v4.1.2"):
    wanted = f"magnus_render/renderers/argo/schemas/argo-{version}.schema.json.gz"
    assert wanted in names, f"{wanted} missing from {sys.argv[1]}"
PY
python3 -m pip install -q --no-deps --force-reinstall "$work"/dist/magnus_render-*.whl
mkdir "$work/elsewhere"
cp samples/hello.yaml "$work/elsewhere/"
cp samples/golden/argo/config.yaml "$work/elsewhere/argo-config.yaml"
(cd "$work/elsewhere" && magnus-render --target argo --validate --image i -c argo-config.yaml \
  hello.yaml >/dev/null)
echo "fresh clone: OK"
