#!/usr/bin/env bash
# The scale benchmark in one command: builds recon and the generator in release mode,
# prepares a virtualenv with DuckDB (the peer), and runs benches/scale/scale.py.
#   benches/scale/run.sh                         # 100k, 1M, 10M customers
#   benches/scale/run.sh --sizes 100000 --incremental
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p recon -p recon-benches
if [ ! -x benches/.venv-scale/bin/python ]; then
  python3 -m venv benches/.venv-scale
fi
benches/.venv-scale/bin/pip install -q --disable-pip-version-check duckdb==2.0.1
exec benches/.venv-scale/bin/python benches/scale/scale.py "$@"
