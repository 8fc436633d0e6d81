#!/usr/bin/env bash
# The one command that runs every test of recon on a fresh machine (see README.md).
# It installs what the tests need when it is missing, then runs:
#   1. the Rust tests of the workspace (unit, integration, sqllogictest), debug profile;
#   2. further suites as they are added (notebooks, browser report, fuzz smoke runs).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo test (workspace, debug profile)"
cargo test --workspace --no-fail-fast

step "all tests passed"
