#!/usr/bin/env bash
# Search benchmark: 20,000 products (seed --scale), 32 connections, next to /healthz in the same
# run. "Typed mix": words of the catalog without diacritics, some with a typo, the last word
# often cut short (about 700 distinct queries, as real traffic repeats itself); "all-new": two
# random three-letter words per request, so no cache of any kind can answer. Prints numbers;
# asserts nothing.
#
#   bench/search.sh                         # Postgres backend
#   MEILI_URL=... MEILI_MASTER_KEY=... bench/search.sh   # both backends, and edit → findable latency
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-3901}
export BIND="127.0.0.1:$PORT"
source "$(dirname "$0")/lib.sh"
fresh_catalog ocop_bench_search

lua=$(mktemp -d)
cat > "$lua/queries.lua" <<'LUA'
-- words people type: folded, some with one typo, the last one often unfinished
local words = {"mat ong", "banh da", "tra", "che tan cuong", "nuoc mam", "gao st25", "mien dong", "ca phe",
  "ruou", "tinh dau", "gom", "tho cam", "mut gung", "hat dieu", "yen sao", "sam", "thai nguyn", "quang nin",
  "banh trang", "keo dua", "xoai", "buoi", "cam", "nhan long", "tuong ot", "gio may", "du lich", "kho ca",
  "dac san", "hop tac xa", "mat ong rung", "tra hoa vang", "ca phe buon", "nem chua", "hat sen", "muoi tom"}
local cut = {"", "", "", "a", "o", "n", "h"}
request = function()
  local q = words[math.random(#words)]
  if math.random() < 0.5 then q = string.sub(q, 1, math.max(2, #q - math.random(0, 3))) end
  q = q .. cut[math.random(#cut)]
  return wrk.format(nil, wrk.path .. string.gsub(q, " ", "+"))
end
LUA

cat > "$lua/fresh.lua" <<'LUA'
-- a query nobody asked before: two random three-letter words, so nothing is cached anywhere
local a = string.byte("a")
local function word() local w = "" for _ = 1, 3 do w = w .. string.char(a + math.random(0, 25)) end return w end
request = function() return wrk.format(nil, wrk.path .. word() .. "+" .. word()) end
LUA

# searches answered by Postgres because Meilisearch failed or was late, since the server started
fallbacks() {
  curl -s "http://$BIND/metrics" | awk '/^ocop_search_fallbacks_total/ {print $2}'
}

table() {
  header "backend: $1 ($CONNECTIONS connections, ${DURATION}s each)"
  healthz_row
  row "/api/v1/search?q=… (typed mix, ~700 distinct: cold)" "/api/v1/search?q=" "$lua/queries.lua"
  row "/api/v1/search?q=… (typed mix: warm)" "/api/v1/search?q=" "$lua/queries.lua"
  row "/search?q=… page (typed mix)" "/search?q=" "$lua/queries.lua"
  row "/api/v1/search/suggest?q=… (typed mix)" "/api/v1/search/suggest?q=" "$lua/queries.lua"
  row "/api/v1/search?q=… (all-new: random 3-letter words)" "/api/v1/search?q=" "$lua/fresh.lua"
  row "/api/v1/search?q=…&province=22&sort=price_asc (all-new)" "/api/v1/search?province=22&sort=price_asc&q=" "$lua/fresh.lua"
  row "/api/v1/search?q=mat+ong (repeated: page cache)" "/api/v1/search?q=mat+ong"
  echo "searches answered by Postgres instead (fallbacks, whole run): $(fallbacks)"
}

serve
table postgres
stop

if [ -n "${MEILI_URL:-}" ]; then
  start=$(date +%s.%N)
  MEILI_URL="$MEILI_URL" MEILI_MASTER_KEY="${MEILI_MASTER_KEY:-}" "$bin" reindex | tail -n 1
  echo "reindex of $PRODUCTS products took $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)") s"
  serve MEILI_URL="$MEILI_URL" MEILI_MASTER_KEY="${MEILI_MASTER_KEY:-}"
  table meilisearch
  # how long an edit takes to become findable in Meilisearch during a burst of 40 edits, each its
  # own transaction: commit → outbox → worker (one batch per burst) → task applied
  python3 - "$DATABASE_URL" "$MEILI_URL" "${MEILI_MASTER_KEY:-}" "${MEILI_INDEX:-products}" <<'PY'
import json, random, string, subprocess, sys, time, urllib.request
db, url, key, index = sys.argv[1:5]
def found(word):
    req = urllib.request.Request(f"{url}/indexes/{index}/search", data=json.dumps({"q": word, "limit": 1}).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    return json.load(urllib.request.urlopen(req))["hits"]
def tasks():
    req = urllib.request.Request(f"{url}/tasks?indexUids={index}&limit=1", headers={"Authorization": f"Bearer {key}"})
    return json.load(urllib.request.urlopen(req))["total"]
# 40 listed products (an unlisted one is never findable, whatever its name)
slugs = subprocess.run(["psql", db, "-qAt", "-c", """
    select p.slug from product p join producer pr using (producer_id)
    join certificate c on c.product_id = p.product_id
    where not p.hidden and pr.status = 'approved' and c.status = 'active'
      and c.verification = 'verified' and c.expires_on > current_date + 1
    order by p.product_id limit 40"""], capture_output=True, text=True, check=True).stdout.split()
words = ["kiemtra" + "".join(random.choices(string.ascii_lowercase, k=8)) for _ in slugs]
before = tasks()
# one psql session, 40 autocommitted updates, each stamped when it committed
script = "".join(f"update product set name = 'Sản phẩm {w}' where slug = '{slug}';\nselect extract(epoch from clock_timestamp());\n"
                 for slug, w in zip(slugs, words))
out = subprocess.run(["psql", db, "-qAt"], input=script, capture_output=True, text=True, check=True).stdout.split()
committed = [float(t) for t in out]
pending = dict(enumerate(words))
waits = [None] * len(words)
deadline = time.time() + 30
while pending and time.time() < deadline:
    for i, w in list(pending.items()):
        if found(w):
            waits[i] = (time.time() - committed[i]) * 1000
            del pending[i]
    time.sleep(0.005)
waits = sorted(w if w is not None else float("inf") for w in waits)
print(f"\nedit → findable in Meilisearch, burst of 40 edits over {(committed[-1] - committed[0]) * 1000:.0f} ms: "
      f"p50 {waits[len(waits) // 2]:.0f} ms, p95 {waits[int(len(waits) * 0.95) - 1]:.0f} ms, max {waits[-1]:.0f} ms, "
      f"{tasks() - before} Meilisearch tasks")
PY
  stop
else
  echo
  echo "Meilisearch: skipped (MEILI_URL is not set; it cannot be installed from this machine's package registries)"
fi
