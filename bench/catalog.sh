#!/usr/bin/env bash
# Catalog read-path benchmark: loads 20,000 products, then measures with wrk at 64 connections
# the listing, a product page and a filtered API call next to /healthz in the same run, and
# counts the SQL statements a product page costs. Prints numbers; asserts nothing.
#
#   bench/catalog.sh            # 20,000 products, 10 s per URL
#   PRODUCTS=5000 DURATION=5 bench/catalog.sh
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-3900}
export BIND="127.0.0.1:$PORT"
source "$(dirname "$0")/lib.sh"
DB=ocop_bench
fresh_catalog "$DB"
serve

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

header "URL (${CONNECTIONS} connections, ${DURATION}s each)"
healthz_row
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
