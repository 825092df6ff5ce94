#!/usr/bin/env bash
# Builds simgate's cargo-fuzz (libFuzzer) targets in fuzz/ and runs each one for a bounded time.
#
#   scripts/fuzz.sh                      smoke: every target for SIMGATE_FUZZ_SMOKE_SECONDS (15) s
#   scripts/fuzz.sh --long 600           every target for 600 s
#   scripts/fuzz.sh --long 300 mrz_text jwt_tamper   only the named targets
#   scripts/fuzz.sh --list               the target names
#
# Seeds are generated at run time into fuzz/target/seeds/ (fuzz/make_seeds.py); what libFuzzer
# learns accumulates in fuzz/corpus/<target>/ and crashes land in fuzz/artifacts/<target>/ (all
# gitignored). Exits non-zero when any target crashes, after running the others, and prints
# the crash input's path and the command that reproduces it. Logs: fuzz/target/logs/<target>.log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
CARGO_FUZZ_VERSION=0.13.2

mode=smoke
seconds=${SIMGATE_FUZZ_SMOKE_SECONDS:-15}
targets=()
while (($#)); do
    case $1 in
        --long)
            mode=long
            seconds=${2:?--long needs a number of seconds}
            shift 2
            ;;
        --list)
            sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^simgate-fuzz$'
            exit 0
            ;;
        -h | --help)
            sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "fuzz.sh: unknown option $1 (see --help)" >&2
            exit 2
            ;;
        *)
            targets+=("$1")
            shift
            ;;
    esac
done
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^simgate-fuzz$')
fi

log() { echo "[fuzz] $*"; }

if cargo fuzz --version >/dev/null 2>&1; then
    log "cargo-fuzz present: $(cargo fuzz --version)"
else
    log "cargo-fuzz missing: installing cargo-fuzz $CARGO_FUZZ_VERSION (cargo install --locked)"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# Only stable Rust is installed here, but cargo-fuzz builds with unstable rustc flags
# (-Zsanitizer=address, -Cpasses=sancov-module, ...). RUSTC_BOOTSTRAP=1 lets the stable compiler
# accept them; the AddressSanitizer runtime ships with the stable toolchain. It is set for the
# fuzz builds only (this script), never for the services' own builds.
export RUSTC_BOOTSTRAP=1

started=$SECONDS
log "building ${#targets[@]} target(s) (release, debug assertions, AddressSanitizer)"
build_started=$SECONDS
all_targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -vc '^simgate-fuzz$')
# `cargo fuzz build` builds one target or all of them; "Compiling" lines are left out.
build() {
    cargo fuzz build "$@" 2>&1 | { grep -vE '^\s+(Compiling|Downloaded|Downloading) ' || true; }
    return "${PIPESTATUS[0]}"
}
if ((${#targets[@]} == all_targets)); then
    build
else
    for target in "${targets[@]}"; do build "$target"; done
fi
log "build took $((SECONDS - build_started)) s"

seeds=fuzz/target/seeds
rm -rf "$seeds"
python=.venv/bin/python
[[ -x $python ]] || python=python3
"$python" fuzz/make_seeds.py "$seeds" "$ROOT"

mkdir -p fuzz/target/logs
failed=()
# The smoke run in `make test` uses a fixed libFuzzer seed, so a CI run explores what the last
# local run explored instead of gambling on new paths; long runs draw a fresh seed each time.
seed_args=()
if [[ $mode == smoke ]]; then
    seed_args=(-seed="${SIMGATE_FUZZ_SEED:-1}")
fi
summary=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "$seeds/$target"
    logfile=fuzz/target/logs/$target.log
    log "$target: fuzzing for $seconds s ($mode)"
    # -timeout: one input taking over 10 s is a finding (a hang), not a slow machine.
    # -rss_limit_mb: a runaway allocation is a finding too; 2 GB is far above any real input.
    if cargo fuzz run "$target" "fuzz/corpus/$target" "$seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${seed_args[@]}" >"$logfile" 2>&1; then
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$logfile" | tail -1)
        [[ -n $runs ]] || runs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$logfile" | tail -1)
        summary+=("$(printf '%-20s ok     %10s runs in %s s' "$target" "${runs:-?}" "$seconds")")
    else
        crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$logfile" | tail -1)
        summary+=("$(printf '%-20s FAILED  crash input: %s' "$target" "${crash:-see $logfile}")")
        failed+=("$target")
        log "$target FAILED; last lines of $logfile:"
        tail -40 "$logfile" | sed 's/^/    /'
        if [[ -n $crash ]]; then
            log "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run $target $crash"
        fi
    fi
done

log "summary ($mode, $((SECONDS - started)) s including the build):"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then
    log "crashes in: ${failed[*]} (inputs under fuzz/artifacts/)"
    exit 1
fi
