#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a fixed budget each.
#
#   pipeline/fuzz/run.sh                 # all targets, 600 s each
#   FUZZ_SECONDS=60 pipeline/fuzz/run.sh csv ndjson
#   FUZZ_ARGS="-fork=1 -ignore_crashes=1" pipeline/fuzz/run.sh ndjson  # go on past crashes
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The stable toolchain is enough:
# RUSTC_BOOTSTRAP=1 lets it take the nightly-only flags cargo-fuzz passes. Targets are
# built without a sanitizer (recon is safe Rust; coverage guidance is what matters)
# in pipeline/fuzz/target, apart from the workspace's target directory.
# New corpus entries go to work/<target> (ignored by git); the committed seeds in
# corpus/<target> are only read. A crash is written to artifacts/<target>/ and the
# script exits non-zero; turn it into a regression test (see README.md).
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
SECONDS_EACH=${FUZZ_SECONDS:-600}
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(csv ndjson coerce config rule_file)
fi
# Build every target once, then run the binaries (cargo fuzz run would rebuild recon).
cargo fuzz build -s none
BIN=target/$(rustc -vV | sed -n 's/^host: //p')/release
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "work/$t" "artifacts/$t"
  echo "==> $t for ${SECONDS_EACH}s"
  if ! "$BIN/$t" "work/$t" "corpus/$t" -artifact_prefix="artifacts/$t/" \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      ${FUZZ_ARGS:-}; then
    echo "!! $t found a crash: see artifacts/$t/"
    status=1
  fi
done
exit $status
