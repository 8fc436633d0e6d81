#!/usr/bin/env bash
# The one command that runs every test of recon on a fresh machine (see README.md).
# It installs what the tests need when it is missing:
#   - Debian's chromium (the report's browser test),
#   - a virtualenv .venv with notebooks/requirements.txt and the Python test packages.
# Then it runs:
#   1. the Rust tests of the workspace (unit, integration, sqllogictest), debug profile;
#   2. a fixture run history built with the real binary;
#   3. the Python tests over that history: the notebooks executed end to end, DuckDB
#      reading the outputs, and report.html in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

step "system packages"
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the report's browser test"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi
chromium --version

step "Python virtualenv (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check \
  -r notebooks/requirements.txt -r pipeline/tests/python/requirements.txt

step "cargo test (workspace, debug profile)"
cargo test --workspace --no-fail-fast

step "fixture run history (target/test-history)"
# The binary `cargo test` built for the integration tests (same features: a separate
# `cargo build -p recon` would rebuild part of DataFusion without the dev-dependencies).
test -x ./target/debug/recon || { echo "target/debug/recon was not built by cargo test" >&2; exit 1; }
HISTORY="$ROOT/target/test-history"
rm -rf "$HISTORY"
for day in 2026-11-17 2026-11-18 2026-11-19 2026-11-20; do
  ./target/debug/recon -q run --config fixtures/demo/recon.toml --as-of "$day" --output "$HISTORY"
done

step "Python tests: notebooks, DuckDB, report in Chromium"
RECON_TEST_OUTPUT="$HISTORY" .venv/bin/python -m pytest -q pipeline/tests/python

step "all tests passed"
