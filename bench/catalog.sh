#!/usr/bin/env bash
# Catalog read-path benchmark: loads 20,000 products, then measures with wrk at 64 connections
# the listing, a product page and a filtered API call next to /healthz in the same run, and
# counts the SQL statements a product page costs. Prints numbers; asserts nothing.
#
#   bench/catalog.sh            # 20,000 products, 10 s per URL
#   PRODUCTS=5000 DURATION=5 bench/catalog.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ocop-target}
PRODUCTS=${PRODUCTS:-20000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-3900}
BASE=${BENCH_DATABASE_BASE:-postgres://postgres@127.0.0.1:5432}
DB=ocop_bench
export DATABASE_URL="$BASE/$DB" BIND="127.0.0.1:$PORT" RUST_LOG=warn

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
scripts/services.sh
cargo build --release --quiet
bin=$CARGO_TARGET_DIR/release/ocop-market

psql "$BASE/postgres" -qc "drop database if exists $DB with (force)" >/dev/null
start=$(date +%s.%N)
"$bin" seed --scale "$PRODUCTS" 2>&1 | tail -n 1
echo "seed --scale $PRODUCTS took $(echo "$(date +%s.%N) - $start" | bc) s"

"$bin" serve >/tmp/ocop-bench-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf "http://$BIND/readyz" >/dev/null && break; sleep 0.1; done

slug=$(curl -s "http://$BIND/api/v1/products?per_page=1&page=7" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["slug"])')
api="/api/v1/products?province=22&stars=4"

# Pages are cached per catalog snapshot; these scripts make every request a new URL, so the
# "uncached" rows measure the full path: filter, facet counts and rendering.
lua=$(mktemp -d)
cat > "$lua/listing.lua" <<'LUA'
request = function() return wrk.format(nil, "/products?price_max=" .. math.random(100000000, 999999999)) end
LUA
cat > "$lua/product.lua" <<LUA
request = function() return wrk.format(nil, "/products/scale-" .. math.random(1, $PRODUCTS)) end
LUA

measure() { # prints: req/s p50 p99 (ms) non-2xx
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

printf '\n%-44s %10s %9s %9s %8s %7s\n' "URL (${CONNECTIONS} connections, ${DURATION}s each)" "req/s" "p50 ms" "p99 ms" "×healthz" "non-2xx"
read -r h_rps h_p50 h_p99 h_err < <(measure /healthz)
printf '%-44s %10s %9s %9s %8s %7s\n' /healthz "$h_rps" "$h_p50" "$h_p99" "1.00" "$h_err"
row() { # label url [lua script]
  read -r rps p50 p99 err < <(measure "$2" "${3:-}")
  printf '%-44s %10s %9s %9s %8.2f %7s\n' "$1" "$rps" "$p50" "$p99" "$(echo "$rps / $h_rps" | bc -l)" "$err"
}
row /products /products
row "/products/{slug}" "/products/$slug"
row "$api" "$api"
row "/ (home)" /
row "/products, uncached (new URL each request)" / "$lua/listing.lua"
row "/products/{slug}, uncached (random product)" / "$lua/product.lua"

# SQL statements per product page: transactions committed in the bench database while 2,000
# product pages are served (every statement outside a transaction commits on its own).
xacts() { psql "$BASE/$DB" -Atc "select pg_stat_force_next_flush(); select xact_commit + xact_rollback from pg_stat_database where datname = '$DB'" | tail -n 1; }
sleep 1.2; before=$(xacts)
for _ in $(seq 1 20); do curl -s "http://$BIND/products/$slug?[1-100]" >/dev/null; done
sleep 1.2; after=$(xacts)
echo
echo "SQL statements per product page (2,000 pages): $(echo "($after - $before - 2) / 2000" | bc -l | xargs printf '%.3f')"
