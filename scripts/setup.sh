#!/usr/bin/env bash
# simgate set-up: installs what is missing, does nothing when everything is in place.
#
#   scripts/setup.sh                          Debian packages, Python venv, models + face fixtures
#   SIMGATE_SETUP_POSTGRES=1 scripts/setup.sh the same, plus PostgreSQL on 127.0.0.1:5432 with a
#                                             role simgate/simgate (LOGIN CREATEDB) for the tests:
#                                             postgres://simgate:simgate@127.0.0.1:5432/postgres
#
# Idempotent and non-interactive. Run it as root on a fresh Debian 12 machine; as another user it
# works when nothing needs installing and otherwise prints the exact command to run as root.
# Environment: SIMGATE_PYTHON (default python3) is the interpreter used to create .venv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
VENV="$ROOT/.venv"
REQUIREMENTS="models/requirements.txt"
STAMP="$VENV/.simgate-requirements.sha256"
PYTHON="${SIMGATE_PYTHON:-python3}"
WANT_POSTGRES="${SIMGATE_SETUP_POSTGRES:-0}"
PG_PORT=5432
PG_URL="postgres://simgate:simgate@127.0.0.1:${PG_PORT}/postgres"

DONE=()
START_TIME=$SECONDS

log() { printf '[setup] %s\n' "$*"; }
die() {
    printf '[setup] ERROR: %s\n' "$*" >&2
    exit 1
}
is_root() { [[ $(id -u) -eq 0 ]]; }

# ---------------------------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------------------------
command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian (12) only"

pkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# oathtool: an independent TOTP implementation the otp interop tests check codes against.
# fonts-ocr-b: the OCR-B font the document tests render synthetic MRZs with (and the OCR
# templates in services/documents/data were rendered from).
PACKAGES=(python3 python3-venv python3-pip pkg-config build-essential curl ca-certificates oathtool fonts-ocr-b)
if [[ $WANT_POSTGRES == 1 ]]; then
    PACKAGES+=(postgresql)
fi
MISSING=()
for pkg in "${PACKAGES[@]}"; do
    pkg_installed "$pkg" || MISSING+=("$pkg")
done
if ((${#MISSING[@]} > 0)); then
    APT_CMD="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${MISSING[*]}"
    if ! is_root; then
        die "missing Debian packages: ${MISSING[*]}. Install them as root, then run this again:
    $APT_CMD"
    fi
    log "installing Debian packages: ${MISSING[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${MISSING[@]}"
    DONE+=("installed ${MISSING[*]}")
else
    log "Debian packages present: ${PACKAGES[*]}"
fi

# Kannel (SMS gateway): bearerbox + smsbox, and kannel-extras' fake SMSC for the SMS integration
# tests. Optional for a non-root developer: the tests skip without it (but fail under CI=true).
KANNEL_PACKAGES=(kannel kannel-extras)
KANNEL_MISSING=()
for pkg in "${KANNEL_PACKAGES[@]}"; do
    pkg_installed "$pkg" || KANNEL_MISSING+=("$pkg")
done
if ((${#KANNEL_MISSING[@]} == 0)); then
    log "Kannel present: ${KANNEL_PACKAGES[*]}"
elif ! is_root; then
    log "skipping Kannel (${KANNEL_MISSING[*]} missing, not root): the Kannel SMS tests will be skipped. Install as root:
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${KANNEL_MISSING[*]}"
else
    log "installing Kannel: ${KANNEL_MISSING[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${KANNEL_MISSING[@]}"
    DONE+=("installed ${KANNEL_MISSING[*]}")
    # simgate's tests start their own boxes on free loopback ports and never use the system one.
    log "note: Debian's kannel service (a WAP gateway from /etc/kannel/kannel.conf) may have been started;
    simgate does not use it. To disable it: set START_WAPBOX=0 in /etc/default/kannel and run 'service kannel stop'"
fi

# ---------------------------------------------------------------------------------------------
# Python venv
# ---------------------------------------------------------------------------------------------
if [[ -e $VENV ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "removing broken .venv (its interpreter does not run; was its Python removed?)"
    rm -rf "$VENV" || die "could not remove the broken $VENV"
fi
if [[ ! -e $VENV ]]; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set SIMGATE_PYTHON or install python3)"
    log "creating Python venv .venv with $("$PYTHON" --version 2>&1) ($(command -v "$PYTHON"))"
    "$PYTHON" -m venv "$VENV" ||
        die "'$PYTHON -m venv $VENV' failed (is python3-venv installed and $ROOT writable?)"
    DONE+=("created .venv")
fi

# the stamp records what was installed: the requirements file and the venv's Python version
REQ_HASH="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
if [[ ! -f $STAMP || "$(cat "$STAMP")" != "$REQ_HASH" ]]; then
    log "installing Python packages from $REQUIREMENTS into .venv"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
        --quiet -r "$REQUIREMENTS" || die "pip install -r $REQUIREMENTS failed"
    printf '%s\n' "$REQ_HASH" >"$STAMP"
    DONE+=("installed Python packages")
else
    log "Python packages up to date in .venv ($REQUIREMENTS unchanged)"
fi

# ---------------------------------------------------------------------------------------------
# Models, ONNX Runtime library, face fixtures
# ---------------------------------------------------------------------------------------------
log "checking models, ONNX Runtime library and face fixtures (models/fetch_models.py)"
FETCH_OUT="$(mktemp)"
trap 'rm -f "$FETCH_OUT"' EXIT
if ! "$VENV/bin/python" models/fetch_models.py 2>&1 | tee "$FETCH_OUT"; then
    die "models/fetch_models.py failed (see the message above)"
fi
if grep -qE 'downloading|converting|copied|extracting|wrote ' "$FETCH_OUT"; then
    DONE+=("fetched/converted models and fixtures")
fi

# ---------------------------------------------------------------------------------------------
# PostgreSQL (only with SIMGATE_SETUP_POSTGRES=1)
# ---------------------------------------------------------------------------------------------
pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }
as_postgres_psql() {
    # peer authentication as the postgres OS user over the local socket (works on a fresh Debian)
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@")
}

if [[ $WANT_POSTGRES == 1 ]]; then
    if pg_up; then
        log "PostgreSQL answers on 127.0.0.1:$PG_PORT"
    else
        [[ -d /etc/postgresql ]] && [[ -n "$(ls /etc/postgresql)" ]] ||
            die "no PostgreSQL cluster under /etc/postgresql (is the postgresql package installed?)"
        PG_VERSION="$(ls /etc/postgresql | sort -V | tail -n1)"
        START_CMD="pg_ctlcluster --skip-systemctl-redirect $PG_VERSION main start"
        is_root || die "PostgreSQL is not running on 127.0.0.1:$PG_PORT; start it as root: $START_CMD"
        log "starting PostgreSQL: $START_CMD"
        $START_CMD || die "'$START_CMD' failed"
        for _ in $(seq 1 30); do
            pg_up && break
            sleep 1
        done
        pg_up || die "PostgreSQL did not come up on 127.0.0.1:$PG_PORT within 30 s (see /var/log/postgresql/)"
        log "PostgreSQL is up on 127.0.0.1:$PG_PORT"
        DONE+=("started PostgreSQL $PG_VERSION")
    fi

    ROLE_OK="$(psql -X -qtA "$PG_URL" -c "select rolcanlogin and rolcreatedb from pg_roles where rolname = current_user" 2>/dev/null || true)"
    if [[ $ROLE_OK == t ]]; then
        log "PostgreSQL role simgate (LOGIN CREATEDB) present"
    else
        ROLE_SQL="DO \$\$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'simgate') THEN
    ALTER ROLE simgate WITH LOGIN CREATEDB PASSWORD 'simgate';
  ELSE
    CREATE ROLE simgate WITH LOGIN CREATEDB PASSWORD 'simgate';
  END IF;
END \$\$;"
        is_root || die "PostgreSQL role simgate is missing; create it as root:
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -p $PG_PORT -c \"CREATE ROLE simgate WITH LOGIN CREATEDB PASSWORD 'simgate'\""
        log "creating PostgreSQL role simgate (password simgate, LOGIN CREATEDB)"
        as_postgres_psql -c "$ROLE_SQL" || die "could not create the PostgreSQL role simgate"
        DONE+=("created PostgreSQL role simgate")
    fi

    if ! PG_ERR="$(psql -X -qtA "$PG_URL" -c 'select 1' 2>&1)" || [[ $PG_ERR != 1 ]]; then
        die "cannot connect to $PG_URL: $PG_ERR
    (check listen_addresses and pg_hba.conf of the cluster in /etc/postgresql: host connections from
     127.0.0.1 must accept password (scram-sha-256/md5) or trust authentication)"
    fi
    log "PostgreSQL ready for tests: $PG_URL"
fi

# ---------------------------------------------------------------------------------------------
ELAPSED=$((SECONDS - START_TIME))
if ((${#DONE[@]} == 0)); then
    log "done in ${ELAPSED} s: everything was already in place, nothing changed"
else
    SUMMARY="$(printf '%s; ' "${DONE[@]}")"
    log "done in ${ELAPSED} s: ${SUMMARY%; }"
fi
