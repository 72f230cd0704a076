#!/usr/bin/env bash
# The image must build from exactly what the Dockerfile copies: compiles the app from a scratch
# folder holding only those paths, offline, against the committed query metadata (as the image's
# build does). A file the build reads but the Dockerfile forgets (templates, locales, a font, the
# search settings) fails here, not in `docker compose up`. A type check of the binary: the same
# files are read as by the release build, in a minute instead of ten on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ocop-target}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# the build stage's COPY lines (up to the second FROM): `COPY a b ./` or `COPY src src`
paths=$(awk '/^FROM/{n++} n==1 && /^COPY /{for (i=2; i<NF; i++) print $i; if ($NF != "./" && $NF != ".") print $NF}' Dockerfile | sort -u)
for p in $paths; do
  [ -e "$p" ] || { echo "Dockerfile copies $p, which does not exist" >&2; exit 1; }
  mkdir -p "$scratch/$(dirname "$p")"
  cp -r "$p" "$scratch/$p"
done
(cd "$scratch" && SQLX_OFFLINE=true cargo check --quiet --locked --offline --bin ocop-market) \
  || { echo "the image would not build: a path the build reads is missing from the Dockerfile's COPY lines" >&2; exit 1; }
echo "docker context: the app builds from the $(echo "$paths" | wc -w) paths the Dockerfile copies"
