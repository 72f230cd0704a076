# Shared by the bench/ scripts: settings, a release build, and wrk measurement.
# shellcheck shell=bash
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ocop-target}
PRODUCTS=${PRODUCTS:-20000}
DURATION=${DURATION:-10}
BASE=${BENCH_DATABASE_BASE:-postgres://postgres@127.0.0.1:5432}
export RUST_LOG=warn

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
scripts/services.sh
cargo build --release --quiet
bin=$CARGO_TARGET_DIR/release/ocop-market

# A scratch database with $PRODUCTS synthetic products.
fresh_catalog() { # database name
  export DATABASE_URL="$BASE/$1"
  psql "$BASE/postgres" -qc "drop database if exists $1 with (force)" >/dev/null 2>&1
  local start; start=$(date +%s.%N)
  "$bin" seed --scale "$PRODUCTS" 2>&1 | tail -n 1
  echo "seed --scale $PRODUCTS took $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s"
}

# measure URL [lua script] → "req/s p50 p99 non-2xx" (milliseconds)
measure() {
  local script=()
  [ -n "${2:-}" ] && script=(-s "$2")
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${script[@]}" "http://$BIND$1" | python3 -c '
import re, sys
t = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s+" + label + r"\s+([\d.]+)(us|ms|s)\s*$", t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
p50, p99 = ms("50%"), ms("99%")
print("%.0f %.2f %.2f %s" % (rps, p50, p99, errors.group(1) if errors else 0))'
}

# row LABEL URL [lua script]: one line of the table, with the ratio to $h_rps (/healthz)
row() {
  local rps p50 p99 err
  read -r rps p50 p99 err < <(measure "$2" "${3:-}")
  printf '%-52s %9s %8s %8s %8.3f %7s\n' "$1" "$rps" "$p50" "$p99" "$(echo "$rps / $h_rps" | bc -l)" "$err"
}

healthz_row() {
  read -r h_rps h_p50 h_p99 h_err < <(measure /healthz)
  printf '%-52s %9s %8s %8s %8s %7s\n' /healthz "$h_rps" "$h_p50" "$h_p99" "1.000" "$h_err"
}

header() {
  printf '\n%-52s %9s %8s %8s %8s %7s\n' "$1" "req/s" "p50 ms" "p99 ms" "×healthz" "non-2xx"
}

serve() { # extra environment for the server, e.g. MEILI_URL=...
  # Meilisearch only when asked for here: an exported MEILI_URL must not reach a Postgres run
  env -u MEILI_URL -u MEILI_MASTER_KEY "$@" "$bin" serve >"/tmp/ocop-bench-$PORT.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://$BIND/readyz" >/dev/null && break; sleep 0.1; done
  echo "server RSS after start: $(rss)"
}
# the server's resident memory, from the kernel (memos are bounded by PAGE_CACHE_MB, SEARCH_MEMO_MB
# and COUNTS_MEMO_MB; see the README)
rss() { awk '/^VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/${server:-0}/status" 2>/dev/null || echo "?"; }
stop() {
  if [ -n "${server:-}" ] && [ -e "/proc/$server" ]; then echo "server RSS at the end: $(rss)"; fi
  kill "${server:-}" 2>/dev/null || true; wait "${server:-}" 2>/dev/null || true
}
trap stop EXIT
