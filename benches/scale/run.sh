#!/usr/bin/env bash
# The scale benchmark in one command: builds recon and the generator in release mode,
# prepares the peers' virtualenvs (DuckDB for the rule checks, Splink 5 for the
# matching, as benches/splink/run.sh does), and runs benches/scale/scale.py.
#   benches/scale/run.sh                         # 100k, 1M, 10M customers; Splink at 100k and 1M
#   benches/scale/run.sh --sizes 100000 --incremental
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p recon -p recon-benches
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x benches/.venv-scale/bin/python ]; then
  "$PY" -m venv benches/.venv-scale
fi
benches/.venv-scale/bin/pip install -q --disable-pip-version-check duckdb==2.0.1
if [ ! -x benches/.venv-splink/bin/python ]; then
  "$PY" -m venv benches/.venv-splink
fi
benches/.venv-splink/bin/pip install -q --disable-pip-version-check -r benches/splink/requirements.txt
exec benches/.venv-scale/bin/python benches/scale/scale.py "$@"
