"""Results of bench/load.sh: one JSON file per backend and scenario, and the Markdown table.

    load_report.py record --run RUN.json --backend sqlite --scenario introspect --pid PID \
                          --rss-reset yes|no --tool "wrk -t2 -c16 -d15s" --json OUT
        Adds the server's memory (VmHWM and VmRSS from /proc/PID/status, read now), the machine
        and the scenario's description to the measurements in RUN.json (written by
        bench/load_common.lua's done() or by `load_setup.py success`), and writes OUT.

    load_report.py table [--dir bench/results]
        Prints every bench/results/load-*.json as one Markdown table (backend x scenario):
        requests/s, latency p50 and p99, the status counts, the server's peak RSS.

--rss-reset yes means the peak was reset (`echo 5 > /proc/PID/clear_refs`) just before the run,
so VmHWM is the peak of this run; no means it is the peak since the server started.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import benchlib

SCENARIOS = {
    "introspect": (
        "token introspection",
        "POST /v1/tokens/introspect, one live activation token; 200 with active=true is the full check",
    ),
    "otp-wrong-checked": (
        "OTP verify, wrong codes, checked",
        "wrong SMS codes spread over fresh verifications, at most otp.max_consecutive_failures (100) per "
        "subscriber: every request loads the session and its code, checks the code (422 wrong, 5 per code; "
        "then 422 locked, code spent) and records the refusal against the subscriber",
    ),
    "otp-wrong-locked": (
        "OTP verify, wrong codes, locked",
        "the same verifications afterwards: every subscriber is locked, refusals are 423 before any "
        "code is compared (what a brute-force attacker gets)",
    ),
    "otp-success": (
        "OTP verify, right code",
        "each prepared verification gets its right code once (200, verification approved); "
        "Python client threads, so a small sample",
    ),
}
ORDER = list(SCENARIOS)


def machine() -> dict:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "")
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "loadavg": os.getloadavg(),
    }


def memory(pid: int) -> dict:
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                values[name] = round(int(rest.split()[0]) / 1024, 1)
    except OSError:
        pass
    return {"peak_rss_mib": values.get("VmHWM"), "rss_mib": values.get("VmRSS")}


def record(args) -> None:
    run = json.loads(Path(args.run).read_text())
    label, description = SCENARIOS[args.scenario]
    result = {
        "name": f"load-{args.backend}-{args.scenario}",
        "backend": args.backend,
        "scenario": args.scenario,
        "label": label,
        "description": description,
        "tool": args.tool,
        **run,
        **memory(args.pid),
        "peak_rss_is_per_run": args.rss_reset == "yes",
        "settings": {
            **machine(),
            "loadavg_before_run": [float(v) for v in args.load_before.split()] if args.load_before else None,
            **({"database": args.note} if args.note else {}),
        },
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


def statuses_text(result: dict) -> str:
    text = ", ".join(f"{status}: {n:,}" for status, n in result.get("statuses", {}).items())
    extra = result.get("extra", {})
    details = [f"{name}: {n:,}" for name, n in extra.items() if name not in ("sent",)]
    errors = {k: v for k, v in result.get("socket_errors", {}).items() if v}
    if errors:
        details.append("socket errors " + ", ".join(f"{k} {v}" for k, v in errors.items()))
    return text + (f" ({'; '.join(details)})" if details else "")


def table(args) -> None:
    results = []
    for path in sorted(Path(args.dir).glob("load-*.json")):
        try:
            results.append(json.loads(path.read_text()))
        except json.JSONDecodeError as error:
            sys.exit(f"{path}: not valid JSON ({error})")
    if not results:
        sys.exit(f"no load-*.json in {args.dir}")
    backends = ["sqlite", "postgres"]
    results.sort(
        key=lambda r: (
            backends.index(r["backend"]) if r["backend"] in backends else 9,
            ORDER.index(r["scenario"]) if r["scenario"] in ORDER else 9,
        )
    )
    print("| backend | endpoint / scenario | requests | requests/s | p50 ms | p99 ms | statuses | peak RSS MiB |")
    print("|---|---|---:|---:|---:|---:|---|---:|")
    for r in results:
        latency = r.get("latency_ms", {})
        peak = r.get("peak_rss_mib")
        peak_text = "–" if peak is None else f"{peak:,.1f}" + ("" if r.get("peak_rss_is_per_run") else " (since start)")
        print(
            f"| {r['backend']} | {r['label']} | {r['requests']:,} | {r['requests_per_s']:,.0f} | "
            f"{latency.get('p50', 0):.2f} | {latency.get('p99', 0):.2f} | {statuses_text(r)} | {peak_text} |"
        )
    first = results[0].get("settings", {})
    print()
    print(
        f"Machine: {first.get('nproc')} CPUs ({first.get('cpu_model') or 'unknown CPU'}), "
        f"{first.get('date')}; client and server share these CPUs (loopback)."
    )
    for r in results:
        before = r.get("settings", {}).get("loadavg_before_run")
        load = f"; load average before: {' '.join(str(v) for v in before)}" if before else ""
        print(f"- {r['backend']} / {r['label']}: {r['tool']}{load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("record")
    r.add_argument("--run", required=True)
    r.add_argument("--backend", required=True)
    r.add_argument("--scenario", required=True, choices=ORDER)
    r.add_argument("--pid", type=int, required=True)
    r.add_argument("--rss-reset", choices=["yes", "no"], default="no")
    r.add_argument("--tool", required=True)
    r.add_argument("--note", help="what the database is")
    r.add_argument("--load-before", help="/proc/loadavg's first three fields before the run")
    r.add_argument("--json", required=True)
    t = commands.add_parser("table")
    t.add_argument("--dir", default=str(benchlib.ROOT / "bench" / "results"))
    args = parser.parse_args()
    record(args) if args.command == "record" else table(args)


if __name__ == "__main__":
    main()
