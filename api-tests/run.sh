#!/usr/bin/env bash
# API fuzzing of the running HTTP service with schemathesis (`make api-fuzz`, part of `make test`).
#
#   SIMGATE_BIN=target/debug/simgate bash api-tests/run.sh [extra `schemathesis run` options]
#
# Builds nothing: expects the built server as $SIMGATE_BIN and the set-up's .venv (schemathesis is
# pinned in models/requirements.txt), models and fixtures (scripts/setup.sh).
#
# What it does, like web-tests/lib/server.js: a temporary directory with a SQLite database, a fresh
# data key, `simgate migrate`, a signing key and one API key of tenant `fuzz` holding every scope;
# `simgate serve` on a free loopback port, with every SIMGATE__* variable of the calling shell
# and SIMGATE_CONFIG cleared, i.e. the shipped defaults except (api-tests/simgate.toml + SIMGATE__* below):
#   - server.rate_limit_per_sec = 0: the per-caller token bucket (20/s, burst 40, per API key)
#     would answer most of one fast client's requests 429, which hides what the handler behind it
#     does with the input. The limiter has its own tests (services/api/tests/operations.rs).
#   - risk.rules = []: not what is under test here, and review states would refuse later steps.
#   - sms.provider = dev_sink in the temporary directory: codes are never sent anywhere.
# Then `schemathesis run` against http://127.0.0.1:PORT/openapi.json with the settings of
# api-tests/schemathesis.toml (checks, examples per operation, phases); the server is stopped and
# the directory removed on every exit. Exits non-zero when schemathesis finds any failure, when the
# server dies or when it logs a panic. The JUnit report lands in api-tests/artifacts/junit.xml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
say() { echo "[api-tests] $*"; }

if [[ -z "${SIMGATE_BIN:-}" || ! -x "${SIMGATE_BIN}" ]]; then
    say "SIMGATE_BIN must name the built simgate binary (got '${SIMGATE_BIN:-}'); build it with 'cargo build -p simgate'"
    exit 2
fi
SIMGATE_BIN="$(cd "$(dirname "$SIMGATE_BIN")" && pwd)/$(basename "$SIMGATE_BIN")"
PYTHON="$repo/.venv/bin/python"
SCHEMATHESIS="$repo/.venv/bin/schemathesis"
for needed in "$repo/models/dist/libonnxruntime.so.1.31.0" "$repo/models/dist/yunet.onnx" "$PYTHON" "$SCHEMATHESIS"; do
    if [[ ! -e "$needed" ]]; then
        say "missing $needed: run scripts/setup.sh first"
        exit 2
    fi
done

# The server runs with its defaults plus what this script sets, whatever the calling shell exports.
while read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^SIMGATE__' || true)
unset SIMGATE_CONFIG

work="$(mktemp -d "${TMPDIR:-/tmp}/simgate-api-fuzz.XXXXXX")"
SERVER_PID=""
# shellcheck source=bench/server_lib.sh
source "$repo/bench/server_lib.sh" # stop_server, free_port (uses $PYTHON)
cleanup() {
    stop_server
    if [[ -n "${KEEP_TEMP:-}" ]]; then
        say "kept $work (KEEP_TEMP set)"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

sed "s#@WORK@#$work#g" "$here/simgate.toml" >"$work/simgate.toml"
export SIMGATE_CONFIG="$work/simgate.toml"
export SIMGATE__DATABASE__URL="sqlite://$work/simgate.db?mode=rwc"
export SIMGATE__ENCRYPTION__KEYS_FILE="$work/data-keys"
export SIMGATE__MODELS__DIR="$repo/models/dist"
export SIMGATE__MODELS__ORT_DYLIB="$repo/models/dist/libonnxruntime.so.1.31.0"
export SIMGATE__LOGGING__FORMAT=json

(umask 077 && "$SIMGATE_BIN" keys generate-data-key --id fuzz-1 >"$SIMGATE__ENCRYPTION__KEYS_FILE")
"$SIMGATE_BIN" migrate >"$work/migrate.log" 2>&1 || {
    say "simgate migrate failed:"
    cat "$work/migrate.log"
    exit 1
}
"$SIMGATE_BIN" signing-key rotate --if-none >/dev/null 2>&1
# Every scope, so that each operation gets past authorisation to its handler (`verify` wins over
# `kiosk`: the key reaches every session of its tenant). The tenant is `fuzz`.
(umask 077 && "$SIMGATE_BIN" api-key create --tenant fuzz --name schemathesis \
    --scopes verify,otp,tokens,admin,batch,events,kiosk 2>/dev/null >"$work/api-key")
API_KEY="$(tr -d '[:space:]' <"$work/api-key")"

start_server() {
    SIMGATE__SERVER__HOST=127.0.0.1 SIMGATE__SERVER__PORT="$PORT" "$SIMGATE_BIN" serve >"$work/serve.log" 2>&1 &
    SERVER_PID=$!
    local deadline=$((SECONDS + 120)) status
    while true; do
        status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/readyz" || true)"
        [[ $status == 200 ]] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            return 1
        fi
        if ((SECONDS > deadline)); then
            say "simgate serve not ready after 120 s; last log lines:"
            tail -n 20 "$work/serve.log"
            exit 1
        fi
        sleep 0.1
    done
}
for attempt in 1 2 3; do
    PORT="$(free_port)"
    start_server && break
    if ! grep -q 'cannot bind' "$work/serve.log" || ((attempt == 3)); then
        say "simgate serve exited before it was ready; last log lines:"
        tail -n 20 "$work/serve.log"
        exit 1
    fi
done
url="http://127.0.0.1:$PORT"
say "simgate serve on $url (tenant 'fuzz', one key with every scope, rate limit off); $("$SCHEMATHESIS" --version)"

mkdir -p "$here/artifacts"
started=$SECONDS
status=0
# The settings (checks, examples per operation, phases) are in api-tests/schemathesis.toml; the
# key goes in as an environment variable so that it never shows on a command line.
(
    cd "$here"
    SIMGATE_FUZZ_API_KEY="$API_KEY" "$SCHEMATHESIS" --config-file "$here/schemathesis.toml" run \
        --url "$url" \
        --report junit --report-junit-path "$here/artifacts/junit.xml" \
        --no-color \
        "$@" \
        "$url/openapi.json"
) || status=$?
elapsed=$((SECONDS - started))

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    say "simgate serve died during the run; last log lines:"
    tail -n 20 "$work/serve.log"
    status=1
fi
if grep -q '"panicked\|panicked at' "$work/serve.log"; then
    say "simgate serve logged a panic:"
    grep -m 5 'panicked' "$work/serve.log"
    status=1
fi
# (503 from /readyz while the models load is expected and logged as an error by tower-http)
errors="$(grep '"level":"ERROR"' "$work/serve.log" | grep -v '"route":"/readyz"' || true)"
if [[ -n $errors ]]; then
    say "the server logged $(wc -l <<<"$errors") ERROR lines; the first:"
    head -n 5 <<<"$errors"
fi
say "finished in ${elapsed} s with status $status (report: $here/artifacts/junit.xml)"
exit "$status"
