# Shared by bench/compare.sh, bench/load.sh and bench/soak.sh (sourced, not run): the
# `simgate serve` process they start on loopback, and (load and soak) its temporary database,
# its preparation, a bounded child command and the time-limit watchdog. Expects $PYTHON (the
# project venv's python); the functions below the first two also use these globals of the
# sourcing script: LOG_TAG (message prefix), BIN, ROOT, RUN_DIR, PG_ADMIN_URL, TIME_LIMIT, and
# TARGET_DIR and the die function; they set SERVER_PID, PORT, PG_DB, DB_URL, BACKEND_NOTE, CHILD_PID and
# WATCHDOG_PID.

# Stops the server: SIGTERM, up to 10 s for in-flight requests, then SIGKILL.
stop_server() {
    if [[ -n ${SERVER_PID:-} ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

# Prints a free loopback TCP port.
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Creates the run's database: a SQLite file in $RUN_DIR, or a new PostgreSQL database named
# $2_<time>_<pid> through $PG_ADMIN_URL (dropped by drop_database). Sets DB_URL, BACKEND_NOTE,
# PG_DB.
create_run_database() {
    local backend="$1" prefix="$2"
    if [[ $backend == sqlite ]]; then
        DB_URL="sqlite://$RUN_DIR/simgate.db"
        BACKEND_NOTE="temporary SQLite file"
        return
    fi
    PG_DB="${prefix}_$(date +%s)_$$"
    psql -X -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE $PG_DB" >/dev/null ||
        die "could not create the PostgreSQL database $PG_DB"
    DB_URL="${PG_ADMIN_URL%/*}/$PG_DB"
    BACKEND_NOTE="temporary PostgreSQL database on 127.0.0.1:5432 ($(psql -X -qtA "$PG_ADMIN_URL" -c 'show server_version'))"
    printf '\n[%s] created the PostgreSQL database %s\n' "$LOG_TAG" "$PG_DB" >&2
}

# Drops the PostgreSQL database create_run_database made, if any.
drop_database() {
    if [[ -n ${PG_DB:-} ]]; then
        psql -X -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 ||
            printf '[%s] warning: could not drop the PostgreSQL database %s\n' "$LOG_TAG" "$PG_DB" >&3
        PG_DB=""
    fi
}

# Points every simgate command at $DB_URL with the config file $1 and the models of models/dist,
# then makes a data key (id $2), migrates and makes a signing key.
prepare_instance() {
    local config="$1" key_id="$2"
    export SIMGATE_CONFIG="$config"
    export SIMGATE__DATABASE__URL="$DB_URL"
    export SIMGATE__ENCRYPTION__KEYS_FILE="$RUN_DIR/data-keys"
    export SIMGATE__MODELS__DIR="$ROOT/models/dist"
    export SIMGATE__MODELS__ORT_DYLIB="$ROOT/models/dist/libonnxruntime.so.1.31.0"
    export SIMGATE__LOGGING__FORMAT=json
    (umask 077 && "$BIN" keys generate-data-key --id "$key_id" >"$SIMGATE__ENCRYPTION__KEYS_FILE")
    "$BIN" migrate >"$RUN_DIR/migrate.log" 2>&1 || die "simgate migrate failed: $(tail -n 20 "$RUN_DIR/migrate.log")"
    "$BIN" signing-key rotate >/dev/null 2>"$RUN_DIR/signing-key.log" ||
        die "simgate signing-key rotate failed: $(cat "$RUN_DIR/signing-key.log")"
}

# Starts `simgate serve` on $PORT (log: $RUN_DIR/serve.log) and waits for /readyz 200; returns 1
# when it exits first.
serve_until_ready() {
    local deadline status
    SIMGATE__SERVER__HOST=127.0.0.1 SIMGATE__SERVER__PORT="$PORT" "$BIN" serve >"$RUN_DIR/serve.log" 2>&1 &
    SERVER_PID=$!
    deadline=$((SECONDS + 120))
    while true; do
        status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/readyz" || true)"
        [[ $status == 200 ]] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            return 1
        fi
        ((SECONDS < deadline)) || die "simgate serve not ready after 120 s; log: $(tail -n 20 "$RUN_DIR/serve.log")"
        sleep 0.05
    done
}

# serve_until_ready on a free port, three tries (another process may take the port first).
# Sets PORT.
serve_on_free_port() {
    local label="$1" attempt
    for attempt in 1 2 3; do
        PORT="$(free_port)"
        printf '\n[%s] %s starting simgate serve on 127.0.0.1:%s (attempt %s)\n' "$LOG_TAG" "$label" "$PORT" "$attempt" >&2
        serve_until_ready && return 0
        grep -q 'cannot bind' "$RUN_DIR/serve.log" ||
            die "simgate serve exited before it was ready; log: $(tail -n 20 "$RUN_DIR/serve.log")"
    done
    die "no free port for simgate serve in three attempts"
}

# Dies when the server has exited (e.g. crashed under load) during $1.
check_server() {
    kill -0 "$SERVER_PID" 2>/dev/null ||
        die "simgate serve exited during $1; last log lines: $(tail -n 20 "$RUN_DIR/serve.log")"
}

# Runs a command in the background and waits for it, so that Ctrl-C or the time limit runs the
# traps at once (bash defers a trap while a foreground command runs, and skips an INT trap
# altogether when that command, like wrk, handles SIGINT itself); returns the command's status.
run_child() {
    "$@" &
    CHILD_PID=$!
    local status=0
    wait "$CHILD_PID" || status=$?
    CHILD_PID=""
    return "$status"
}

# Stops the command run_child is waiting for, if any (for the EXIT trap).
stop_child() {
    if [[ -n ${CHILD_PID:-} ]] && kill -0 "$CHILD_PID" 2>/dev/null; then
        kill -TERM "$CHILD_PID" 2>/dev/null || true
        wait "$CHILD_PID" 2>/dev/null || true
    fi
}

# Bounds the whole run: after $TIME_LIMIT s the script gets SIGTERM (handled once the running
# command, bounded on its own, has returned). Sets WATCHDOG_PID.
start_watchdog() {
    local main_pid=$$
    (
        sleep "$TIME_LIMIT" &
        sleeper=$!
        trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
        wait "$sleeper"
        kill -TERM "$main_pid" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
    WATCHDOG_PID=$!
}

# Stops the watchdog and its sleep (for the EXIT trap).
stop_watchdog() {
    if [[ -n ${WATCHDOG_PID:-} ]]; then
        pkill -TERM -P "$WATCHDOG_PID" 2>/dev/null || true
        kill "$WATCHDOG_PID" 2>/dev/null || true
        WATCHDOG_PID=""
    fi
}

# Installs Debian's wrk when missing (as root; otherwise says how and stops).
ensure_wrk() {
    if command -v wrk >/dev/null; then
        printf '\n[%s] wrk present: %s\n' "$LOG_TAG" "$(command -v wrk)" >&2
        return
    fi
    local apt_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk"
    [[ $(id -u) -eq 0 ]] || die "wrk is missing. As root run: $apt_cmd"
    printf '\n[%s] installing Debian package wrk (apt-get)\n' "$LOG_TAG" >&2
    apt-get update -q </dev/null >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk </dev/null >&2
    command -v wrk >/dev/null || die "apt-get install wrk did not provide a wrk binary"
    printf '\n[%s] installed wrk: %s\n' "$LOG_TAG" "$(dpkg-query -W -f='${Version}' wrk)" >&2
}

# Stops unless psql reaches $PG_ADMIN_URL; $1 says how to run without PostgreSQL.
require_postgres() {
    local without="$1" error
    command -v psql >/dev/null || die "psql is missing (Debian postgresql-client); make setup-test installs PostgreSQL"
    error="$(psql -X -qtA "$PG_ADMIN_URL" -c 'select 1' 2>&1)" || true
    [[ $error == 1 ]] || die "cannot connect to PostgreSQL at $(sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#' <<<"$PG_ADMIN_URL"): $error
    run \`make setup-test\` (starts PostgreSQL and creates the simgate role), set SIMGATE_TEST_POSTGRES_URL,
    or $without"
}

# The server runs with its defaults plus what the sourcing script sets, whatever the calling
# shell exports.
clear_simgate_environment() {
    local name
    while read -r name; do
        unset "$name"
    done < <(compgen -e | grep -E '^SIMGATE__' || true)
    unset SIMGATE_CONFIG
}

# Builds the release simgate binary when $1 is 1, then checks $BIN exists.
build_simgate_release() {
    if (($1)); then
        printf '\n[%s] building the release simgate binary in %s\n' "$LOG_TAG" "$TARGET_DIR" >&2
        cargo build --release -p simgate --bin simgate ||
            die "cargo build --release failed (see above); --skip-build reuses $BIN if it exists"
    fi
    [[ -x $BIN ]] || die "$BIN not built (run without --skip-build)"
}
