#!/usr/bin/env bash
# Regenerates .sqlx/ (the compile-time query metadata that lets the build work offline) from a
# scratch database with every migration applied. With --check, fails if .sqlx/ is not current.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ocop-target}
base=${SQLX_BASE_URL:-postgres://postgres@127.0.0.1:5432}
db=ocop_sqlx_$$
psql "$base/postgres" -qc "create database $db" >/dev/null
trap 'psql "$base/postgres" -qc "drop database if exists $db" >/dev/null' EXIT
for f in migrations/*.sql; do psql "$base/$db" -v ON_ERROR_STOP=1 -qf "$f" >/dev/null; done
out=$(mktemp -d)
# touching the sources makes cargo expand every query macro again
find src tests -name '*.rs' -exec touch {} +
SQLX_OFFLINE=false DATABASE_URL="$base/$db" SQLX_OFFLINE_DIR="$out" cargo check --quiet --all-targets
if [ "${1:-}" = "--check" ]; then
  if diff -rq "$out" .sqlx >/dev/null; then echo ".sqlx is current"; else echo ".sqlx is stale: run scripts/sqlx-prepare.sh" >&2; diff -rq "$out" .sqlx >&2 || true; exit 1; fi
else
  rm -rf .sqlx && mv "$out" .sqlx && echo ".sqlx regenerated: $(ls .sqlx | wc -l) queries"
fi
