#!/usr/bin/env bash
# Set up (if needed) and run the whole figure pipeline and its HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/snakemake ] || bash scripts/setup.sh
. .venv/bin/activate
snakemake --cores "${CORES:-all}" "$@"
snakemake --report results/report.html
