"""Prints the side-by-side benchmark results as Markdown tables.

Reads NAME.json from one folder (default bench/results), for these names:
- faces: opencv-python (the reference, from reference_faces.py), simgate-inprocess (the Rust
  in-process benchmark, same JSON shape) and simgate-http (http_compare.py);
- documents: passporteye (the reference, from reference_documents.py) and simgate-documents
  (same JSON shape).
A file that is missing, or a value that is null, is shown as "not measured".

Output, in order: the face table (each metric's value, and its ratio to opencv-python), the
decision agreement per fixture pair and any non-200 responses of simgate-http; the document table
(ratios to passporteye) and the agreement on which documents read valid; the load average during
each run, since the numbers only compare when the machine was equally quiet.
"""

import argparse
import json
import sys
from pathlib import Path

FACE_REFERENCE, FACE_OTHERS = "opencv-python", ["simgate-inprocess", "simgate-http"]
DOCUMENT_REFERENCE, DOCUMENT_OTHERS = "passporteye", ["simgate-documents"]
NOT_MEASURED = "not measured"

# (label, how to get the value from a result, whether a ratio to the reference means anything)
FACE_METRICS = [
    ("median latency of one compare (ms)", lambda r: r.get("median_ms"), True),
    ("p99 latency of one compare (ms)", lambda r: r.get("p99_ms"), True),
    ("throughput, 1 client (compares/s)", lambda r: r.get("throughput", {}).get("1"), True),
    ("throughput, 2 clients (compares/s)", lambda r: r.get("throughput", {}).get("2"), True),
    ("throughput, 4 clients (compares/s)", lambda r: r.get("throughput", {}).get("4"), True),
    ("peak RSS (MiB)", lambda r: r.get("peak_rss_mib"), True),
]
DOCUMENT_METRICS = [
    ("documents", lambda r: r.get("documents"), False),
    ("median time per document (ms)", lambda r: r.get("median_ms"), True),
    ("p99 time per document (ms)", lambda r: r.get("p99_ms"), True),
    ("read rate, every check digit valid (%)", lambda r: r.get("read_rate") and 100 * r["read_rate"], True),
]


def load_result(folder: Path, name: str) -> dict | None:
    path = folder / f"{name}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        sys.exit(f"{path}: not valid JSON ({error})")


def number(value) -> str:
    if value is None:
        return NOT_MEASURED
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def ratio(value, reference) -> str:
    if value is None or not reference:
        return "–"
    return f"{value / reference:.2f}×"


def metric_table(metrics, reference_name: str, reference: dict | None, others: dict[str, dict | None]) -> list[str]:
    header = ["metric", f"{reference_name} (reference)"]
    for name in others:
        header += [name, f"{name} / {reference_name}"]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for label, get, has_ratio in metrics:
        base = get(reference) if reference else None
        row = [label, number(base)]
        for result in others.values():
            value = get(result) if result else None
            row += [number(value), ratio(value, base) if has_ratio else "–"]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def pair_key(pair: dict) -> frozenset:
    return frozenset((pair["reference"], pair["probe"]))


def decision_agreement(reference: dict | None, name: str, result: dict | None) -> str:
    if not reference or not result:
        return f"- {name}: {NOT_MEASURED}"
    decided = {pair_key(p): p["match"] for p in reference.get("pairs", []) if p.get("match") is not None}
    same, different, undecided = 0, [], []
    for pair in result.get("pairs", []):
        key, label = pair_key(pair), f"{pair['reference']} vs {pair['probe']}"
        if pair.get("match") is None or key not in decided:
            undecided.append(label)
        elif pair["match"] == decided[key]:
            same += 1
        else:
            different.append(f"{label} ({name} {pair['match']}, {FACE_REFERENCE} {decided[key]})")
    line = f"- {name}: same decision on {same} of {same + len(different)} pairs decided by both"
    if different:
        line += "; different: " + ", ".join(different)
    if undecided:
        line += "; no decision from one side: " + ", ".join(undecided)
    return line


def non_200_lines(result: dict | None) -> list[str]:
    """The non-200 answers of simgate-http by phase, when there were any."""
    if not result or not result.get("non_200"):
        return []

    def counts(by_outcome: dict) -> str:
        return ", ".join(f"{n} × {outcome}" for outcome, n in by_outcome.items())

    responses = result.get("responses", {})
    lines = [
        "",
        f"simgate-http got {result['non_200']} non-200 responses "
        "(503 with Retry-After: the inference queue was full; 429: the per-key rate limit; "
        "neither is counted as a compare):",
        "",
    ]
    lines.append(f"- latency run: {counts(responses.get('latency', {}))}")
    lines += [
        f"- throughput, {clients} client(s): {counts(by_outcome)}"
        for clients, by_outcome in responses.get("throughput", {}).items()
    ]
    lines.append(f"- fixture pairs: {counts(responses.get('pairs', {}))}")
    return lines


def validity_agreement(reference: dict | None, name: str, result: dict | None) -> str:
    if not reference or not result:
        return f"- {name}: {NOT_MEASURED}"
    valid = {d["file"]: d["valid"] for d in reference.get("per_document", [])}
    documents = [d for d in result.get("per_document", []) if d["file"] in valid]
    different = [
        f"{d['file']} ({name} {d['valid']}, {DOCUMENT_REFERENCE} {valid[d['file']]})"
        for d in documents
        if d["valid"] != valid[d["file"]]
    ]
    line = f"- {name}: same validity on {len(documents) - len(different)} of {len(documents)} documents read by both"
    return line + ("; different: " + ", ".join(different) if different else "")


def load_lines(results: dict[str, dict | None]) -> list[str]:
    lines = []
    for name, result in results.items():
        settings = (result or {}).get("settings", {})
        if "loadavg_start" in settings:
            start, end = settings["loadavg_start"][0], settings.get("loadavg_end", [None])[0]
            end_text = NOT_MEASURED if end is None else f"{end:.2f}"
            cores = settings.get("cpu_count", "?")
            lines.append(
                f"- {name}: 1-minute load average {start:.2f} at the start, {end_text} at the end ({cores} cores)"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(__file__).resolve().parent / "results",
        help="folder with the NAME.json result files (default bench/results)",
    )
    args = parser.parse_args()

    results = {
        name: load_result(args.dir, name)
        for name in [FACE_REFERENCE, *FACE_OTHERS, DOCUMENT_REFERENCE, *DOCUMENT_OTHERS]
    }
    face_others = {name: results[name] for name in FACE_OTHERS}
    document_others = {name: results[name] for name in DOCUMENT_OTHERS}

    lines = ["## Face comparison", ""]
    lines += metric_table(FACE_METRICS, FACE_REFERENCE, results[FACE_REFERENCE], face_others)
    lines += ["", "Ratios below 1× are better for latency and memory, above 1× for throughput."]
    lines += ["", f"Match decisions per fixture pair, against {FACE_REFERENCE}:", ""]
    lines += [decision_agreement(results[FACE_REFERENCE], name, result) for name, result in face_others.items()]
    lines += non_200_lines(results["simgate-http"])
    lines += ["", "## MRZ reading", ""]
    lines += metric_table(DOCUMENT_METRICS, DOCUMENT_REFERENCE, results[DOCUMENT_REFERENCE], document_others)
    lines += ["", "Ratios below 1× are better for time, above 1× for read rate."]
    lines += ["", f"Documents read with every check digit valid, against {DOCUMENT_REFERENCE}:", ""]
    lines += [validity_agreement(results[DOCUMENT_REFERENCE], name, result) for name, result in document_others.items()]
    machine_load = load_lines(results)
    if machine_load:
        lines += ["", "Machine load while measuring:", "", *machine_load]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
