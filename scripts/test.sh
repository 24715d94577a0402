#!/usr/bin/env bash
# Set up (if needed) and run the test suite: unit, verification and workflow tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/snakemake ] || bash scripts/setup.sh
.venv/bin/python -m pytest "$@"
