#!/usr/bin/env bash
# Fuzzes every payment callback parser (fuzz/fuzz_targets) with cargo fuzz (libFuzzer, nightly):
# SECONDS_EACH per target, 12 s by default, so the five run in a minute once built.
#
#   scripts/fuzz.sh               # all five targets
#   SECONDS_EACH=300 scripts/fuzz.sh stripe
set -euo pipefail
cd "$(dirname "$0")/.."
export SQLX_OFFLINE=true
# instrumented builds share nothing with the normal ones: their own, persistent target dir
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$HOME/.cache/ocop-fuzz-target}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sepay casso vnpay momo stripe)
cargo +nightly fuzz build --fuzz-dir fuzz
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${SECONDS_EACH:-12}s"
  # a crash fails the script; the last lines say how many inputs were tried
  cargo +nightly fuzz run --fuzz-dir fuzz "$t" -- -max_total_time="${SECONDS_EACH:-12}" -rss_limit_mb=2048 2>&1 | tail -n 2
done
