#!/usr/bin/env bash
# Dashboard benchmark at national scale: 20,000 products and 10 million orders over three years
# (`seed --scale --orders`, resumable: a second run reuses the database), then every dashboard
# page, CSV and API call timed one request at a time as a staff member would load them — first
# on the sales rollups, then with STATS_FROM_ORDERS=true (every number computed from the orders on
# each request). Prints p50 and max in milliseconds; asserts nothing.
#
#   bench/dashboard.sh                      # 10,000,000 orders (first run seeds: about half an hour)
#   ORDERS=1000000 bench/dashboard.sh
#   REPS=5 RAW_REPS=1 bench/dashboard.sh
#   RAW_REPS=0 bench/dashboard.sh           # the rollups only
#   FRESH=1 bench/dashboard.sh              # drop the database and seed again
PORT=${PORT:-3903}
export BIND="127.0.0.1:$PORT"
export REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/10}
CONNECTIONS=1
source "$(dirname "$0")/lib.sh"
ORDERS=${ORDERS:-10000000}
REPS=${REPS:-20}
RAW_REPS=${RAW_REPS:-2}
DB=${BENCH_DB:-ocop_bench_dashboard_$ORDERS}
export DATABASE_URL="$BASE/$DB"
[ -n "${FRESH:-}" ] && psql "$BASE/postgres" -qc "drop database if exists $DB with (force)" >/dev/null 2>&1

start=$(date +%s)
"$bin" seed --scale "$PRODUCTS" --orders "$ORDERS" 2>&1 | grep -v ' of .* orders' | tail -n 2
echo "seed (or reuse) took $(( $(date +%s) - start )) s"
psql "$DATABASE_URL" -Atc "select 'orders: ' || count(*) || ', order lines: ' || (select count(*) from order_line)
  || ', payments: ' || (select count(*) from payment) || ', from ' || min(created_at)::date || ' to ' || max(created_at)::date
  || '; rollup rows: ' || (select count(*) from stats_sales) + (select count(*) from stats_producer)
     + (select count(*) from stats_product) + (select count(*) from stats_goods) from shop_order"

# A national staff member (an admin) to sign in as, and an API token for the reporting calls.
ADMIN_PASSWORD=bench-dashboard-2025 "$bin" create-admin --login bench-admin@ocop.test >/dev/null 2>&1
token=ocop_bench_dashboard_token_0123456789
psql "$DATABASE_URL" -qc "insert into staff_api_token (token_hash, user_id, label)
  select '$(printf %s "$token" | sha256sum | cut -d' ' -f1)', user_id, 'bench' from app_user where email = 'bench-admin@ocop.test'
  on conflict do nothing"
province=$(psql "$DATABASE_URL" -Atc "select province_code from province order by province_code limit 1")

jar=$(mktemp)
login() {
  rm -f "$jar"
  local csrf
  csrf=$(curl -s -c "$jar" -b "$jar" "http://$BIND/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
  curl -s -o /dev/null -c "$jar" -b "$jar" -H "Origin: http://$BIND" \
    --data-urlencode "csrf=$csrf" --data-urlencode "login=bench-admin@ocop.test" \
    --data-urlencode "password=bench-dashboard-2025" "http://$BIND/login"
}

today=$(TZ=Asia/Ho_Chi_Minh date +%F)
three_years_ago=$(TZ=Asia/Ho_Chi_Minh date -d '3 years ago + 1 day' +%F)
pages=(
  "/staff/dashboard?period=today"
  "/staff/dashboard?period=7d"
  "/staff/dashboard?period=30d"
  "/staff/dashboard?period=month"
  "/staff/dashboard?period=year"
  "/staff/dashboard?period=year&by=week"
  "/staff/dashboard?period=custom&from=$three_years_ago&to=$today&by=month"
  "/staff/dashboard?period=30d&province=$province"
  "/staff/dashboard?period=year&province=$province"
  "/staff/dashboard.csv?table=product&period=year"
  "/staff/dashboard.csv?table=commune&period=year&province=$province"
  "API /api/v1/stats/summary?period=30d"
  "API /api/v1/stats/summary?from=$three_years_ago&to=$today"
  "API /api/v1/stats/product?period=year"
)

# time URL REPS → "p50 max status" (ms)
time_page() {
  local url=$1 reps=$2 auth=()
  if [[ $url == API\ * ]]; then url=${url#API }; auth=(-H "Authorization: Bearer $token"); fi
  for _ in $(seq 1 "$reps"); do
    curl -s -o /dev/null -b "$jar" "${auth[@]}" -w '%{http_code} %{time_total}\n' "http://$BIND$url"
  done | python3 -c '
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
ms = sorted(float(t) * 1000 for _, t in rows)
codes = ",".join(sorted({c for c, _ in rows}))
print("%.1f %.1f %s" % (ms[len(ms) // 2], ms[-1], codes))'
}

declare -A with_p50 with_max with_code
serve
login
for p in "${pages[@]}"; do time_page "$p" 2 >/dev/null; done # warm the caches
for p in "${pages[@]}"; do
  read -r a b c < <(time_page "$p" "$REPS")
  with_p50[$p]=$a; with_max[$p]=$b; with_code[$p]=$c
done
stop
printf '\n%-78s %20s\n' "Dashboard page ($ORDERS orders; ms, one request at a time)" "rollups p50 / max"
for p in "${pages[@]}"; do printf '%-78s %9s / %8s\n' "$p" "${with_p50[$p]}" "${with_max[$p]}"; done

[ "$RAW_REPS" = 0 ] && exit 0
serve STATS_FROM_ORDERS=true
login
printf '\n%-78s %20s %20s\n' "Dashboard page ($ORDERS orders; ms, one request at a time)" "rollups p50 / max" "from orders p50"
for p in "${pages[@]}"; do
  read -r a _ c < <(time_page "$p" "$RAW_REPS")
  printf '%-78s %9s / %8s %20s %s\n' "$p" "${with_p50[$p]}" "${with_max[$p]}" "$a" \
    "$( [ "${with_code[$p]}" = 200 ] && [ "$c" = 200 ] || echo "(HTTP ${with_code[$p]} / $c)")"
done
stop
rm -f "$jar"
