#!/usr/bin/env bash
# The test command: every test, against the real local Postgres, Redis and headless Chromium.
# Installs what the tests need when it is missing (Debian's chromium and chromium-driver).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ocop-target}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

scripts/services.sh
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
  echo "installing Debian's chromium and chromium-driver for the browser tests"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# schemathesis (PyPI) checks the running API against its OpenAPI description: a virtualenv of
# its own beside the build cache, made once
tools=${OCOP_TOOLS:-$HOME/.cache/ocop-tools}
export SCHEMATHESIS=$tools/schemathesis/bin/st
if ! "$SCHEMATHESIS" --version 2>/dev/null | grep -q 4.32.5; then
  echo "installing schemathesis 4.32.5 from PyPI for the API check"
  rm -rf "$tools/schemathesis"
  python3 -m venv "$tools/schemathesis"
  "$tools/schemathesis/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi

# Meilisearch cannot be installed from this machine's package registries: its half of the search
# suite runs whenever MEILI_URL (and MEILI_MASTER_KEY) point at one.
if [ -z "${MEILI_URL:-}" ]; then
  echo "note: MEILI_URL is not set, so the Meilisearch half of the search suite is skipped (the Postgres half runs)."
fi
# the image builds from what the Dockerfile copies (skipped when a test name is asked for)
if [ $# -eq 0 ]; then scripts/docker-context-check.sh; fi
cargo test --locked "$@"
