#!/usr/bin/env bash
# Set-up for the side-by-side benchmark's Python side: installs what is missing, nothing else.
#
#   bench/setup_bench.sh
#
# 1. Debian packages tesseract-ocr and tesseract-ocr-eng (PassportEye runs the tesseract binary),
#    installed with apt-get only when `dpkg -s` says they are missing.
# 2. bench/requirements.txt into the project's existing .venv (scripts/setup.sh creates it), with
#    pip only when an installed version differs from a pin (checked with importlib.metadata, which
#    takes well under a second, instead of asking pip to resolve).
#
# Idempotent and non-interactive (no stdin, CI=true is fine). Run it as root on Debian 12; as another
# user it works when nothing needs installing and otherwise prints the command to run as root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV_PYTHON=".venv/bin/python"
REQUIREMENTS="bench/requirements.txt"
DEBIAN_PACKAGES=(tesseract-ocr tesseract-ocr-eng)
INSTALLED=()
START_TIME=$SECONDS

log() { printf '[setup-bench] %s\n' "$*"; }
die() {
    printf '[setup-bench] ERROR: %s\n' "$*" >&2
    exit 1
}

# --- Debian packages ---------------------------------------------------------------------------
MISSING=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || MISSING+=("$pkg")
done
if ((${#MISSING[@]} == 0)); then
    log "Debian packages present: ${DEBIAN_PACKAGES[*]}"
else
    APT_CMD="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${MISSING[*]}"
    [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${MISSING[*]}. As root run: $APT_CMD"
    log "installing Debian packages: ${MISSING[*]}"
    apt-get update -q </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${MISSING[@]}" </dev/null
    INSTALLED+=("Debian: ${MISSING[*]}")
fi
log "tesseract: $(tesseract --version 2>&1 | head -n 1)"

# --- Python packages ---------------------------------------------------------------------------
[[ -x $VENV_PYTHON ]] || die "$VENV_PYTHON not found: run scripts/setup.sh (make setup) first"

# Prints one line per pin that the venv does not satisfy: "name==wanted (installed: x)".
unsatisfied_pins() {
    "$VENV_PYTHON" - "$REQUIREMENTS" <<'PY'
import re, sys
from importlib import metadata
from pathlib import Path

def pins(path):
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            yield from pins(Path(path).parent / line[3:].strip())
        elif line:
            name, version = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", line).groups()
            yield name, version

for name, version in pins(sys.argv[1]):
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = "none"
    if have != version:
        print(f"{name}=={version} (installed: {have})")
PY
}

UNSATISFIED="$(unsatisfied_pins)"
if [[ -z $UNSATISFIED ]]; then
    log "Python packages of $REQUIREMENTS present in .venv"
else
    log "installing into .venv:"
    sed 's/^/    /' <<<"$UNSATISFIED"
    "$VENV_PYTHON" -m pip install --disable-pip-version-check --no-input --progress-bar off \
        --quiet -r "$REQUIREMENTS" </dev/null || die "pip install -r $REQUIREMENTS failed"
    STILL="$(unsatisfied_pins)"
    [[ -z $STILL ]] || die "pins still unsatisfied after pip install: $STILL"
    INSTALLED+=("Python: $(printf '%s\n' "$UNSATISFIED" | cut -d' ' -f1 | paste -sd' ')")
fi

# --- Models (installed by scripts/setup.sh, only checked here) -------------------------------------
for model in models/dist/plain/yunet.onnx models/dist/plain/sface.onnx; do
    [[ -s $model ]] || log "warning: $model is missing: run scripts/setup.sh (make setup) before bench/reference_faces.py"
done

if ((${#INSTALLED[@]} == 0)); then
    log "nothing to install ($((SECONDS - START_TIME)) s)"
else
    log "installed ($((SECONDS - START_TIME)) s):"
    printf '    %s\n' "${INSTALLED[@]}"
fi
