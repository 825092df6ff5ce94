#!/usr/bin/env bash
# The side-by-side benchmark in one command (`make bench-compare`): simgate against OpenCV's Python
# face pipeline and against PassportEye, on the same models, fixture pairs and documents.
#
#   bash bench/compare.sh [--iterations N] [--warmup N] [--repeats N] [--quick] [--skip-build]
#
#   --iterations N  timed compares for latency, and compares per concurrency level (default 30,
#                   or $BENCH_ITERATIONS)
#   --warmup N      untimed compares before each latency run (default 3, or $BENCH_WARMUP)
#   --repeats N     checks of each document on both MRZ sides (default 1, or $BENCH_REPEATS)
#   --quick         a smoke run: --iterations 5 --warmup 1 --repeats 1
#   --skip-build    use the binaries already built (CARGO_TARGET_DIR/release)
#
# Steps, strictly one after the other (every side gets the same two cores; never two at once):
#  1. cargo build --release: the `simgate` binary and the examples bench_compare
#     (simgate-biometrics) and bench_documents (simgate-documents); respects CARGO_TARGET_DIR.
#     $BENCH_BUILD_NICE (default 0) runs the builds under `nice -n`, so a shared machine's other
#     builds are not slowed; it does not apply to the measurements.
#  2. bench/setup_bench.sh: tesseract and the Python packages (idempotent).
#  3. `simgate serve` on a free loopback port with a temporary SQLite database, data key, signing
#     key and `verify` API key (every SIMGATE__* variable of the calling shell is cleared, so the
#     server runs with its defaults, except the per-key rate limit, which is off). Cold start =
#     launching `simgate serve` until /readyz answers
#     200 (database and face models ready), polled every 20 ms with curl; printed and written to
#     bench/results/cold-start.json, with the time to the first HTTP answer of any status.
#  4. bench/http_compare.py against it (--server-pid for the server's peak RSS); then the server
#     is stopped (also on any exit or failure, by a trap).
#  5. bench_compare (simgate in-process), bench_documents (simgate MRZ), bench/reference_faces.py
#     (OpenCV) and bench/reference_documents.py (PassportEye); the document steps are skipped,
#     with a message, when ../shared/data/mrz-dev does not exist.
#  6. bench/table.py prints the comparison (also kept in bench/results/table.md).
#
# Results: bench/results/*.json (the files of the steps above are deleted first, so a skipped step
# shows as "not measured" rather than as an old number).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
RESULTS="$ROOT/bench/results"
PYTHON="$ROOT/.venv/bin/python"
DOCUMENTS="$ROOT/../shared/data/mrz-dev"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
RELEASE="$TARGET_DIR/release"
BIN="$RELEASE/simgate"
BUILD_NICE="${BENCH_BUILD_NICE:-0}"

ITERATIONS="${BENCH_ITERATIONS:-30}"
WARMUP="${BENCH_WARMUP:-3}"
REPEATS="${BENCH_REPEATS:-1}"
BUILD=1

log() { printf '\n[bench] %s\n' "$*" >&2; }
die() {
    printf '[bench] ERROR: %s\n' "$*" >&2
    exit 1
}

while (($# > 0)); do
    case "$1" in
        --iterations) ITERATIONS="${2:?--iterations needs a value}" && shift ;;
        --warmup) WARMUP="${2:?--warmup needs a value}" && shift ;;
        --repeats) REPEATS="${2:?--repeats needs a value}" && shift ;;
        --quick) ITERATIONS=5 WARMUP=1 REPEATS=1 ;;
        --skip-build) BUILD=0 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
for value in "$ITERATIONS" "$WARMUP" "$REPEATS"; do
    [[ $value =~ ^[0-9]+$ ]] || die "iterations, warm-up and repeats must be whole numbers (got '$value')"
done
((ITERATIONS > 0 && REPEATS > 0)) || die "iterations and repeats must be positive"
command -v curl >/dev/null || die "curl is needed to poll /readyz"

# The server and the examples run with their defaults, whatever the calling shell exports.
while read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^SIMGATE__' || true)

# --- 1. build ------------------------------------------------------------------------------------
if ((BUILD)); then
    log "building release binaries in $TARGET_DIR (nice $BUILD_NICE)"
    nice -n "$BUILD_NICE" cargo build --release -p simgate --bin simgate
    nice -n "$BUILD_NICE" cargo build --release -p simgate-biometrics --example bench_compare
    nice -n "$BUILD_NICE" cargo build --release -p simgate-documents --example bench_documents
fi
for binary in "$BIN" "$RELEASE/examples/bench_compare" "$RELEASE/examples/bench_documents"; do
    [[ -x $binary ]] || die "$binary not built (run without --skip-build)"
done

# --- 2. Python side ------------------------------------------------------------------------------
log "bench/setup_bench.sh"
bash bench/setup_bench.sh

mkdir -p "$RESULTS"
rm -f "$RESULTS"/{opencv-python,simgate-inprocess,simgate-http,passporteye,simgate-documents,cold-start}.json \
    "$RESULTS/table.md"

# --- 3. simgate serve ----------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/simgate-bench.XXXXXX")"
SERVER_PID=""
# shellcheck source=bench/server_lib.sh
source "$ROOT/bench/server_lib.sh"
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export SIMGATE__DATABASE__URL="sqlite://$WORK/simgate.db"
export SIMGATE__ENCRYPTION__KEYS_FILE="$WORK/data-keys"
export SIMGATE__MODELS__DIR="$ROOT/models/dist"
export SIMGATE__MODELS__ORT_DYLIB="$ROOT/models/dist/libonnxruntime.so.1.31.0"
export SIMGATE__LOGGING__FORMAT=json
# The per-key rate limit (20/s by default) would cap the 4-client run with 429s: this measures
# compares, not the limiter, which the API tests cover.
export SIMGATE__SERVER__RATE_LIMIT_PER_SEC=0

log "preparing a temporary SQLite database and keys in $WORK"
(umask 077 && "$BIN" keys generate-data-key --id bench-1 >"$SIMGATE__ENCRYPTION__KEYS_FILE")
"$BIN" migrate 2>"$WORK/migrate.log" || die "simgate migrate failed: $(cat "$WORK/migrate.log")"
"$BIN" signing-key rotate --if-none >/dev/null
SIMGATE_BENCH_KEY="$("$BIN" api-key create --tenant bench --name bench --scopes verify)"
export SIMGATE_BENCH_KEY

now() { date +%s.%N; }

# Starts the server on $PORT, waits for /readyz 200; sets COLD_START and FIRST_ANSWER (seconds).
# Returns 1 when the server exits before answering (e.g. the port was taken meanwhile).
start_server() {
    local started first="" status deadline
    LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
    started="$(now)"
    SIMGATE__SERVER__HOST=127.0.0.1 SIMGATE__SERVER__PORT="$PORT" "$BIN" serve >"$WORK/serve.log" 2>&1 &
    SERVER_PID=$!
    deadline=$((SECONDS + 180))
    while true; do
        status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/readyz" || true)"
        if [[ $status != 000 && -z $first ]]; then
            first="$(now)"
        fi
        if [[ $status == 200 ]]; then
            break
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            return 1
        fi
        ((SECONDS < deadline)) || die "simgate serve not ready after 180 s; log: $(tail -n 20 "$WORK/serve.log")"
        sleep 0.02
    done
    local ready
    ready="$(now)"
    COLD_START="$(awk -v a="$started" -v b="$ready" 'BEGIN { printf "%.3f", b - a }')"
    FIRST_ANSWER="$(awk -v a="$started" -v b="$first" 'BEGIN { printf "%.3f", b - a }')"
}

for attempt in 1 2 3; do
    PORT="$(free_port)"
    log "starting simgate serve on 127.0.0.1:$PORT (attempt $attempt)"
    if start_server; then
        break
    fi
    grep -q 'cannot bind' "$WORK/serve.log" || die "simgate serve exited before it was ready; log: $(tail -n 20 "$WORK/serve.log")"
    ((attempt < 3)) || die "no free port for simgate serve in three attempts"
done
log "cold start: ${COLD_START} s from launching simgate serve to /readyz 200 (first HTTP answer after ${FIRST_ANSWER} s)"
"$PYTHON" - "$RESULTS/cold-start.json" "$COLD_START" "$FIRST_ANSWER" "$ROOT/bench" "$LOAD_BEFORE" <<'PY'
import sys
sys.path.insert(0, sys.argv[4])
import benchlib

path, ready, first = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
settings = benchlib.machine_settings()
# The load when the server was launched, not now (the end value is added when writing).
settings["loadavg_start"] = [float(value) for value in sys.argv[5].split()]
settings.update(
    measured="launching `simgate serve` until GET /readyz answered 200, polled every 20 ms with curl",
    includes="process start, configuration, SQLite connect + migration check, ONNX Runtime and face model load",
    database="fresh temporary SQLite file (already migrated by `simgate migrate`)",
    binary="release",
)
benchlib.write_result(
    {"name": "simgate-cold-start", "ready_seconds": ready, "first_http_answer_seconds": first, "settings": settings},
    path,
)
PY

# --- 4. over HTTP --------------------------------------------------------------------------------
log "bench/http_compare.py (simgate over HTTP)"
"$PYTHON" bench/http_compare.py --url "http://127.0.0.1:$PORT" --server-pid "$SERVER_PID" \
    --iterations "$ITERATIONS" --warmup "$WARMUP" --json "$RESULTS/simgate-http.json"
stop_server

# --- 5. in-process and references ----------------------------------------------------------------
log "bench_compare (simgate in-process)"
"$RELEASE/examples/bench_compare" --iterations "$ITERATIONS" --warmup "$WARMUP" \
    --json "$RESULTS/simgate-inprocess.json"

if [[ -d $DOCUMENTS ]]; then
    log "bench_documents (simgate MRZ)"
    "$RELEASE/examples/bench_documents" --documents "$DOCUMENTS" --repeats "$REPEATS" \
        --json "$RESULTS/simgate-documents.json"
else
    log "skipping bench_documents: $DOCUMENTS not found"
fi

log "bench/reference_faces.py (OpenCV)"
"$PYTHON" bench/reference_faces.py --iterations "$ITERATIONS" --warmup "$WARMUP" \
    --json "$RESULTS/opencv-python.json"

if [[ -d $DOCUMENTS ]]; then
    log "bench/reference_documents.py (PassportEye)"
    "$PYTHON" bench/reference_documents.py --documents "$DOCUMENTS" --repeats "$REPEATS" \
        --json "$RESULTS/passporteye.json"
else
    log "skipping bench/reference_documents.py: $DOCUMENTS not found"
fi

# --- 6. the table --------------------------------------------------------------------------------
log "results (iterations $ITERATIONS, warm-up $WARMUP, document repeats $REPEATS)"
echo
"$PYTHON" bench/table.py --dir "$RESULTS" | tee "$RESULTS/table.md"
cold_line="Cold start of simgate serve (launch to /readyz 200): ${COLD_START} s (first HTTP answer after ${FIRST_ANSWER} s)."
printf '\n%s\n' "$cold_line" | tee -a "$RESULTS/table.md"
