#!/usr/bin/env bash
# Matching benchmark, recon vs Splink 5 (DuckDB), in one command:
#
#   benches/splink/run.sh [DATASET ...] [--splink-timeout SECONDS]
#
# DATASET: febrl3, fake_1000, gen:N (default: febrl3 fake_1000 gen:100000 gen:1000000).
# Creates the virtualenv benches/.venv-splink, builds recon and the generator in release
# mode if missing, and writes benches/results/matching-<date>.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=benches/.venv-splink
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r benches/splink/requirements.txt

if [ ! -x target/release/recon ] || [ ! -x target/release/generate ]; then
    cargo build --release -p recon -p recon-benches
fi

exec "$VENV/bin/python" benches/splink/bench_matching.py "$@"
