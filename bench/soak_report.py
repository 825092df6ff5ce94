"""The verdict and summary of bench/soak.sh (standard library only).

    soak_report.py --dir RUN_DIR --results DIR --rss RSS_CSV --warmup S --out SUMMARY_MD [--note TEXT ...]

RUN_DIR holds phases.txt ("name start_epoch end_epoch" per measured phase); DIR (bench/results)
holds, per phase, soak-<name>.json (bench/soak.lua through load_common.lua's done()). RSS_CSV is the sampler's
file: epoch_s,phase,vmrss_kib,vmhwm_kib,load1.

Per phase it checks:
  - statuses: every response of every role is one of EXPECTED[role] (below); a 429 or 503
    without Retry-After, a compare 200 that is not a match, an inactive introspection or a wrk
    socket timeout or connect error is a failure; each role must have had some real work;
  - RSS: warm = the first sample at least S seconds into the phase, end = its last sample,
    max, and the least-squares slope (MiB/min) over the samples from warm to end. It fails when
    end - warm > max(RSS_GROWTH_MIB, RSS_GROWTH_SHARE x warm) AND slope > RSS_SLOPE_MIB_PER_MIN:
    a steady leak shows as both; a one-off step (an allocator arena, the ONNX Runtime pool
    reaching its working size) shows as growth without a lasting slope, noise as neither.
Prints the markdown summary, writes it to SUMMARY_MD and exits 1 when any check failed.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

RSS_GROWTH_MIB = 32.0
RSS_GROWTH_SHARE = 0.10
RSS_SLOPE_MIB_PER_MIN = 4.0

# Status -> why it is an expected answer, per role (bench/soak.lua).
BY_DESIGN = {
    "429": "the per-caller token bucket (server.rate_limit_per_sec 20, burst 40 per API key), with Retry-After",
    "503": "by design with Retry-After: the bounded inference queue is full (inference-busy), or the database is unavailable",
}
EXPECTED = {
    "compare-limited": {"200": "the faces were compared (the pair is one person: match)", **BY_DESIGN},
    "compare-spread": {"200": "the faces were compared (the pair is one person: match)", **BY_DESIGN},
    "otp-limited": {
        "422": "code refused: reason wrong (a real comparison), locked (5 attempts spent this code) or expired (300 s)",
        "423": "the subscriber is locked after 100 consecutive refusals (otp.max_consecutive_failures)",
        **BY_DESIGN,
    },
    "otp-spread": {},  # as otp-limited
    "introspect": {"200": "the token is introspected (it must stay active)", **BY_DESIGN},
}
EXPECTED["otp-spread"] = EXPECTED["otp-limited"]
# Statuses that mean the endpoint did its work (not refused before the handler).
WORK = {"compare-limited": ("200",), "compare-spread": ("200",), "otp-limited": ("422", "423"),
        "otp-spread": ("422", "423"), "introspect": ("200",)}
PHASE_TITLES = {"compare": "POST /v1/faces/compare", "otp": "POST .../otp/verify (wrong codes) + POST /v1/tokens/introspect"}


def mib(kib: float) -> float:
    return kib / 1024


def slope_mib_per_min(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_r = sum(r for _, r in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (r - mean_r) for t, r in points)
    return cov / var * 60  # MiB per second -> per minute


def fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())) or "none"


def analyse_phase(name: str, start: float, end: float, run: dict, samples: list[dict], warmup: float):
    problems = []
    roles: dict[str, dict] = {}
    for key, n in run.get("extra", {}).items():
        parts = key.split(" ")
        if len(parts) < 2 or parts[0] not in EXPECTED:
            continue
        role = roles.setdefault(parts[0], {"statuses": {}, "details": {}})
        if len(parts) == 2 and parts[1].isdigit():
            role["statuses"][parts[1]] = role["statuses"].get(parts[1], 0) + n
        else:
            role["details"][" ".join(parts[1:])] = n
    if not roles:
        problems.append(f"{name}: no per-role counts in the wrk result")
    for role_name, role in roles.items():
        expected = EXPECTED[role_name]
        for status, n in role["statuses"].items():
            if status not in expected:
                problems.append(f"{role_name}: {n:,} unexpected HTTP {status}")
        for detail, n in role["details"].items():
            if detail.endswith("no-retry-after"):
                problems.append(f"{role_name}: {n:,} responses {detail.split()[0]} without Retry-After")
            if detail in ("no-match", "inactive"):
                problems.append(f"{role_name}: {n:,} answers 200 but {detail}")
            if detail.startswith("422 ") and detail.split()[1] not in ("wrong", "locked", "expired"):
                problems.append(f"{role_name}: {n:,} answers 422 with reason {detail.split()[1]}")
        if not any(role["statuses"].get(s) for s in WORK[role_name]):
            problems.append(f"{role_name}: no response did the endpoint's work ({'/'.join(WORK[role_name])})")
    sockets = run.get("socket_errors", {})
    for kind in ("connect", "timeout"):
        if sockets.get(kind):
            problems.append(f"{name}: {sockets[kind]:,} wrk socket {kind} errors")

    in_phase = [s for s in samples if start <= s["t"] <= end]
    rss = {"samples": len(in_phase)}
    if len(in_phase) < 3:
        problems.append(f"{name}: only {len(in_phase)} RSS samples")
    else:
        after = [s for s in in_phase if s["t"] >= start + warmup] or in_phase[-1:]
        warm, last = after[0], in_phase[-1]
        growth = mib(last["rss"] - warm["rss"])
        slope = slope_mib_per_min([(s["t"], mib(s["rss"])) for s in after])
        bound = max(RSS_GROWTH_MIB, RSS_GROWTH_SHARE * mib(warm["rss"]))
        rss.update(
            start=mib(in_phase[0]["rss"]), warm=mib(warm["rss"]), warm_at=warm["t"] - start, end=mib(last["rss"]),
            max=mib(max(s["rss"] for s in in_phase)), hwm=mib(max(s["hwm"] for s in in_phase)),
            growth=growth, bound=bound, slope=slope, post_warmup=len(after),
            load=max(s["load1"] for s in in_phase),
        )
        if growth > bound and slope > RSS_SLOPE_MIB_PER_MIN:
            problems.append(
                f"{name}: RSS grew {growth:.1f} MiB after warm-up (bound {bound:.1f}) at {slope:.2f} MiB/min "
                f"(bound {RSS_SLOPE_MIB_PER_MIN})"
            )
    return {"name": name, "duration": end - start, "run": run, "roles": roles, "rss": rss, "problems": problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--results", required=True)
    parser.add_argument("--rss", required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()

    run_dir = Path(args.dir)
    samples = []
    with open(args.rss, newline="") as f:
        for row in csv.DictReader(f):
            samples.append({"t": float(row["epoch_s"]), "rss": float(row["vmrss_kib"]),
                            "hwm": float(row["vmhwm_kib"]), "load1": float(row["load1"])})
    phases = []
    for line in (run_dir / "phases.txt").read_text().splitlines():
        if not line.strip():
            continue
        name, start, end = line.split()
        result = Path(args.results) / f"soak-{name}.json"
        run = json.loads(result.read_text()) if result.exists() else {}
        phases.append(analyse_phase(name, float(start), float(end), run, samples, args.warmup))

    out = []
    out.append("| phase: endpoint | duration | requests | statuses | RSS after warm-up | RSS end | RSS max | "
               "slope after warm-up | verdict |")
    out.append("|---|---:|---:|---|---:|---:|---:|---:|---|")
    for p in phases:
        r, run = p["rss"], p["run"]
        verdict = "**FAIL**" if p["problems"] else "pass"
        if "warm" in r:
            rss_cells = (f"{r['warm']:.1f} MiB (at {r['warm_at']:.0f} s) | {r['end']:.1f} MiB | {r['max']:.1f} MiB | "
                         f"{r['slope']:+.2f} MiB/min")
        else:
            rss_cells = "- | - | - | -"
        out.append(f"| {p['name']}: {PHASE_TITLES.get(p['name'], p['name'])} | {p['duration']:.0f} s | "
                   f"{run.get('requests', 0):,} | {fmt_counts(run.get('statuses', {}))} | {rss_cells} | {verdict} |")
    out.append("")
    out.append("| phase | role (wrk thread) | responses | per s | statuses | details |")
    out.append("|---|---|---:|---:|---|---|")
    for p in phases:
        for role_name, role in sorted(p["roles"].items()):
            n = sum(role["statuses"].values())
            details = ", ".join(f"{k}: {v:,}" for k, v in sorted(role["details"].items())) or "-"
            out.append(f"| {p['name']} | {role_name} | {n:,} | {n / max(p['duration'], 1):,.0f} | "
                       f"{fmt_counts(role['statuses'])} | {details} |")
    out.append("")
    for p in phases:
        r, run = p["rss"], p["run"]
        lat = run.get("latency_ms", {})
        sockets = run.get("socket_errors", {})
        line = (f"- {p['name']}: wrk p50 {lat.get('p50', 0):.2f} ms, p99 {lat.get('p99', 0):.2f} ms, max "
                f"{lat.get('max', 0):.0f} ms (all statuses); socket errors {fmt_counts(sockets)}")
        if "warm" in r:
            line += (f"; RSS at phase start {r['start']:.1f} MiB, growth after warm-up {r['growth']:+.1f} MiB "
                     f"(bound {r['bound']:.1f} MiB and {RSS_SLOPE_MIB_PER_MIN} MiB/min), VmHWM {r['hwm']:.1f} MiB, "
                     f"{r['samples']} samples ({r['post_warmup']} after warm-up), highest 1-min load {r['load']:.2f}")
        out.append(line)
    for note in args.note:
        out.append(f"- {note}")
    problems = [problem for p in phases for problem in p["problems"]]
    out.append("")
    if problems:
        out.append("**FAILED:**")
        out.extend(f"- {problem}" for problem in problems)
    else:
        out.append("All checks passed: only expected statuses (429/503 with Retry-After), RSS within bounds.")
    text = "\n".join(out) + "\n"
    Path(args.out).write_text(text)
    print(text)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
