#!/usr/bin/env bash
# Settlement benchmark:
#  - payment callbacks per second (signed SePay transfers, each paying an order and posting its
#    ledger entries) through the real router (examples/callback_bench.rs, on a scratch catalog);
#  - a payout run over PRODUCERS producers whose ledger holds ORDERS sold orders from the past
#    year, and the producer's money page at that scale (examples/settlement_bench.rs).
# Prints numbers; asserts nothing.
#
#   bench/settlement.sh                      # 10,000 producers, 1,000,000 orders (~11 M lines)
#   ORDERS=10000000 bench/settlement.sh      # a year at national scale (building it takes long)
PORT=${PORT:-3903}
export BIND="127.0.0.1:$PORT"
export REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/9}
export SEPAY_WEBHOOK_SECRET=bench-sepay-secret
export TRUST_PROXY=true
PRODUCTS=${PRODUCTS:-2000}
PRODUCERS=${PRODUCERS:-10000}
ORDERS=${ORDERS:-1000000}
CALLBACKS=${CALLBACKS:-3000}
source "$(dirname "$0")/lib.sh"
cargo build --release --quiet --example callback_bench --example settlement_bench

fresh_catalog ocop_bench_callbacks
"$CARGO_TARGET_DIR/release/examples/callback_bench" --bind 127.0.0.1:0 --callbacks "$CALLBACKS"

export DATABASE_URL="$BASE/ocop_bench_payouts"
psql "$BASE/postgres" -qc "drop database if exists ocop_bench_payouts with (force)" >/dev/null 2>&1
"$bin" seed --scale 10 >/dev/null 2>&1
"$CARGO_TARGET_DIR/release/examples/settlement_bench" --bind 127.0.0.1:0 \
  --producers "$PRODUCERS" --orders "$ORDERS"
redis-cli -u "$REDIS_URL" flushdb >/dev/null 2>&1 || true
