#!/usr/bin/env bash
# Cart and checkout benchmark: loads 20,000 products, then
#  - add-to-cart (POST /cart/add, a new anonymous cart each request, Redis) with wrk at 64
#    connections next to /healthz in the same run;
#  - uncontended checkouts per second and a 200-buyer race for 10 units
#    (examples/checkout_bench.rs: the real router, sessions, CSRF, Redis cart, Postgres).
# Prints numbers; asserts nothing. Carts go to Redis database 9, emptied afterwards.
#
#   bench/checkout.sh
#   PRODUCTS=5000 DURATION=5 bench/checkout.sh
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-3902}
export BIND="127.0.0.1:$PORT"
export REDIS_URL=${BENCH_REDIS_URL:-redis://127.0.0.1:6379/9}
# one load generator is one client address: lift the per-client cart budget (120 a minute by
# default) so the benchmark measures the cart, not the rate limit
export CART_WRITES_PER_MINUTE=${CART_WRITES_PER_MINUTE:-1000000000}
source "$(dirname "$0")/lib.sh"
DB=ocop_bench_checkout
fresh_catalog "$DB"
serve

lua=$(mktemp -d)
cat > "$lua/add.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
request = function()
  return wrk.format(nil, "/cart/add", nil, "qty=1&slug=scale-" .. math.random(1, $PRODUCTS))
end
LUA

header "URL (${CONNECTIONS} connections, ${DURATION}s each)"
healthz_row
row "POST /cart/add (JSON, new cart each request)" / "$lua/add.lua"
stop

echo
cargo build --release --quiet --example checkout_bench
"$CARGO_TARGET_DIR/release/examples/checkout_bench" --bind 127.0.0.1:0
redis-cli -u "$REDIS_URL" flushdb >/dev/null 2>&1 || true

# Carriers at checkout: the page with their quotes, and placing with the quote shown.
echo
echo "with the sandbox carrier (each shopper's quote page first; quotes cached after the first):"
SHIPPING_SANDBOX=1 "$CARGO_TARGET_DIR/release/examples/checkout_bench" --bind 127.0.0.1:0
echo
echo "with a carrier that never answers (GHN's address takes the connection and says nothing):"
silent=$((PORT + 50))
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $silent)); s.listen(4096); time.sleep(3600)" &
silent_pid=$!
trap 'kill $silent_pid 2>/dev/null || true; stop' EXIT
psql "$BASE/$DB" -qc "insert into carrier_place (carrier, commune_code, district_id, ward_code) select 'ghn', commune_code, 1, 'W1' from commune on conflict do nothing" >/dev/null
GHN_TOKEN=bench GHN_SHOP_ID=1 GHN_URL="http://127.0.0.1:$silent/shiip/public-api" \
  "$CARGO_TARGET_DIR/release/examples/checkout_bench" --bind 127.0.0.1:0 --checkouts 30 --concurrency 4 --no-race
kill $silent_pid 2>/dev/null || true
redis-cli -u "$REDIS_URL" flushdb >/dev/null 2>&1 || true
