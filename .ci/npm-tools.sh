#!/usr/bin/env bash
# npm tools the tests use, installed into a git-ignored folder (called by .ci/run).
# asl-validator: the second Amazon States Language validator next to statelint (PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .ci/node/node_modules/.bin/asl-validator ]; then
  npm install --silent --no-audit --no-fund --prefix .ci/node asl-validator@4.0.0
fi
