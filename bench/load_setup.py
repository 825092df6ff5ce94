"""Prepares and measures what bench/load.sh needs around wrk (standard library only).

    load_setup.py prepare --url URL --key-file F --sink FILE --out DIR [--wrong N] [--success M]
        Runs real kiosk verifications against `simgate serve`: open (POST /v1/verifications),
        document (the face fixture person_a_1.jpg with the ICAO 9303 specimen MRZ as text), selfie
        (person_a_2.jpg, the same person), then the SMS second factor (POST .../otp
        {"method":"sms"}). The codes are read back from the dev-sink SMS gateway's JSON-lines
        file (`to` is the number, the code is the first run of digits of `text`).
          - N + M + 1 verifications are opened, each for its own number;
          - one is completed (right code, then POST .../activation): its activation token goes
            to DIR/token.txt (and one introspection checks that it is active);
          - N wait for their code: DIR/otp-wrong.txt, one "id code" per line (wrk, wrong codes);
          - M wait for their code: DIR/otp-success.txt (the success path, below).
        Prints what it did and writes DIR/prepare.json (counts and timings).

    load_setup.py success --url URL --key-file F --sessions DIR/otp-success.txt
                          [--concurrency C] --json OUT
        The success path of OTP verify: each verification gets its right code once (200, the
        step passes and the verification is approved), from C client threads with one
        keep-alive connection each. Writes requests, wall time, requests/s, latency p50/p99 and
        the status counts.

Fails with a message naming the step and the server's answer when any step is refused.
"""

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import benchlib

FIXTURES = benchlib.FACE_FIXTURES
DOCUMENT_IMAGE, SELFIE_IMAGE = "person_a_1.jpg", "person_a_2.jpg"
# ICAO 9303 specimen TD3 MRZ (expires 2034-12-31), as services/simgate/tests/cli.rs uses it.
SPECIMEN_MRZ = "P<UTOERIKSSON<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<\nL898902C36UTO9008124F3412318ZE184226B<<<<<16"
# What the kiosk page sends once the subscriber ticked the notice (required by the kiosk policy).
CONSENT = {
    "notice_version": "kiosk-2026-11-en",
    "purposes": ["identity_verification", "biometric_matching"],
    "method": "on_screen",
}
EID = "89049032123451234512345678901235"
ICCID = "8923000000000000005"


class Failure(Exception):
    pass


class Client:
    """One keep-alive connection; not shared between threads."""

    def __init__(self, url: str, key: str, timeout: float = 60):
        parts = urlsplit(url)
        self.netloc, self.timeout = parts.netloc, timeout
        self.authorization = f"Bearer {key}"
        self.connection = None

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method: str, path: str, body: bytes = b"", content_type: str | None = None):
        headers = {"Authorization": self.authorization}
        if content_type:
            headers["Content-Type"] = content_type
        attempt = rate_limited = 0
        while True:
            attempt += 1
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.netloc, timeout=self.timeout)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                # a kept-alive connection the server closed meanwhile: once more on a new one
                self.close()
                if attempt >= 2:
                    raise
                continue
            if response.will_close:
                self.close()
            # bench/soak.sh keeps the per-caller rate limit on: wait as told and send again
            if response.status == 429 and b"urn:simgate:problem:rate-limited" in data and rate_limited < 120:
                attempt, rate_limited = 0, rate_limited + 1
                time.sleep(int(response.getheader("Retry-After") or "1"))
                continue
            return response.status, data

    def json(self, method: str, path: str, payload: dict | None = None):
        body = json.dumps(payload).encode() if payload is not None else b""
        status, data = self.request(method, path, body, "application/json" if payload is not None else None)
        return status, data

    def multipart(self, path: str, files: dict[str, Path], fields: dict[str, str]):
        boundary = f"simgate-load-{uuid.uuid4().hex}"
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, file in files.items():
            parts += [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file.name}"\r\n'
                "Content-Type: image/jpeg\r\n\r\n".encode(),
                file.read_bytes(),
                b"\r\n",
            ]
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, b"".join(parts), f"multipart/form-data; boundary={boundary}")


def expect(step: str, status: int, data: bytes, wanted: tuple[int, ...]) -> dict:
    if status not in wanted:
        raise Failure(f"{step}: HTTP {status}, expected {wanted}: {data[:600].decode(errors='replace')}")
    return json.loads(data) if data else {}


def msisdn_of(index: int) -> str:
    # Mauritian mobile numbers (+230 5xxx xxxx), one per verification.
    return f"+2305710{index:04d}"


def open_to_otp(client: Client, msisdn: str) -> str:
    """One kiosk verification up to a queued SMS code; returns its id."""
    status, data = client.json(
        "POST",
        "/v1/verifications",
        {"channel": "kiosk", "msisdn": msisdn, "eid": EID, "iccid": ICCID, "consent": CONSENT},
    )
    verification = expect("open verification", status, data, (200, 201))
    vid = verification["id"]
    status, data = client.multipart(
        f"/v1/verifications/{vid}/document", {"image": FIXTURES / DOCUMENT_IMAGE}, {"mrz_text": SPECIMEN_MRZ}
    )
    expect("document step", status, data, (200,))
    status, data = client.multipart(f"/v1/verifications/{vid}/selfie", {"frames": FIXTURES / SELFIE_IMAGE}, {})
    body = expect("selfie step", status, data, (200,))
    state = body.get("verification", {}).get("status")
    if state != "in_progress":
        raise Failure(f"selfie step: verification is {state!r}, expected in_progress (face match failed?): {body}")
    status, data = client.json("POST", f"/v1/verifications/{vid}/otp", {"method": "sms"})
    expect("SMS code request", status, data, (202,))
    return vid


def read_codes(sink: Path, numbers: set[str], timeout: float) -> dict[str, str]:
    """The latest code sent to each number, waiting until every number has one."""
    deadline = time.monotonic() + timeout
    while True:
        codes = {}
        if sink.exists():
            for line in sink.read_text().splitlines():
                try:
                    sent = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line being written
                text = sent.get("text", "")
                digits = ""
                for char in text:
                    if char.isdigit():
                        digits += char
                    elif digits:
                        break
                if sent.get("to") in numbers and len(digits) >= 6:
                    codes[sent["to"]] = digits
        missing = numbers - codes.keys()
        if not missing:
            return codes
        if time.monotonic() > deadline:
            raise Failure(f"{len(missing)} of {len(numbers)} SMS codes never reached the dev sink {sink}")
        time.sleep(0.1)


def prepare(args) -> None:
    key = Path(args.key_file).read_text().strip()
    total = args.wrong + args.success + 1
    numbers = [msisdn_of(i) for i in range(total)]
    local = threading.local()

    def client() -> Client:
        if not hasattr(local, "client"):
            local.client = Client(args.url, key)
        return local.client

    started = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        ids = list(pool.map(lambda number: open_to_otp(client(), number), numbers))
    prepared = time.perf_counter() - started
    print(
        f"[load-setup] {total} kiosk verifications up to the SMS code in {prepared:.1f} s "
        f"({args.workers} client threads; document + selfie run face inference)",
        file=sys.stderr,
    )
    codes = read_codes(Path(args.sink), set(numbers), args.sms_timeout)
    sessions = [(vid, codes[number]) for vid, number in zip(ids, numbers)]
    token_session, wrong, success = sessions[0], sessions[1 : 1 + args.wrong], sessions[1 + args.wrong :]

    main = Client(args.url, key)
    vid, code = token_session
    status, data = main.json("POST", f"/v1/verifications/{vid}/otp/verify", {"code": code})
    body = expect("right SMS code", status, data, (200,))
    if body["verification"]["status"] != "approved":
        raise Failure(f"right SMS code: verification is {body['verification']['status']!r}, expected approved")
    status, data = main.request("POST", f"/v1/verifications/{vid}/activation")
    token = expect("activation token", status, data, (200, 201))["token"]
    status, data = main.json("POST", "/v1/tokens/introspect", {"token": token})
    if not expect("introspection", status, data, (200,)).get("active"):
        raise Failure(f"introspection: the fresh token is not active: {data[:300]!r}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "token.txt").write_text(token + "\n")
    (out / "otp-wrong.txt").write_text("".join(f"{vid} {code}\n" for vid, code in wrong))
    (out / "otp-success.txt").write_text("".join(f"{vid} {code}\n" for vid, code in success))
    (out / "prepare.json").write_text(
        json.dumps(
            {
                "verifications": total,
                "wrong_code_sessions": len(wrong),
                "success_sessions": len(success),
                "prepare_seconds": round(prepared, 2),
                "per_verification_ms": round(1000 * prepared * args.workers / total, 1),
            }
        )
        + "\n"
    )
    print(
        f"[load-setup] token issued and active; {len(wrong)} verifications for wrong codes, "
        f"{len(success)} for the success path",
        file=sys.stderr,
    )


def success(args) -> None:
    key = Path(args.key_file).read_text().strip()
    sessions = [line.split() for line in Path(args.sessions).read_text().splitlines() if line.strip()]
    if not sessions:
        raise Failure(f"no verifications in {args.sessions}")
    budget = iter(sessions)
    lock = threading.Lock()
    durations, statuses, approved = [], Counter(), Counter()
    barrier = threading.Barrier(args.concurrency + 1)
    failures = []

    def worker():
        try:
            client = Client(args.url, key)
            client.request("GET", "/healthz")  # connect before the clock starts
            barrier.wait()
            while True:
                with lock:
                    item = next(budget, None)
                if item is None:
                    return
                vid, code = item
                start = time.perf_counter()
                status, data = client.json("POST", f"/v1/verifications/{vid}/otp/verify", {"code": code})
                elapsed = time.perf_counter() - start
                with lock:
                    durations.append(elapsed)
                    statuses[str(status)] += 1
                    if status == 200:
                        approved[json.loads(data)["verification"]["status"]] += 1
        except threading.BrokenBarrierError:
            pass
        except Exception as error:  # reported by the main thread
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if failures:
        raise Failure(f"right-code run: {failures[0]!r}")
    result = {
        "requests": len(durations),
        "duration_s": round(wall, 3),
        "requests_per_s": round(len(durations) / wall, 1),
        "latency_ms": {
            "mean": round(1000 * sum(durations) / len(durations), 3),
            "max": round(1000 * max(durations), 3),
            "p50": round(1000 * benchlib.percentile(durations, 50), 3),
            "p90": round(1000 * benchlib.percentile(durations, 90), 3),
            "p99": round(1000 * benchlib.percentile(durations, 99), 3),
        },
        "statuses": dict(sorted(statuses.items())),
        "extra": {f"verification_{k}": v for k, v in sorted(approved.items())},
        "threads": args.concurrency,
    }
    Path(args.json).write_text(json.dumps(result) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare")
    p.add_argument("--url", required=True)
    p.add_argument("--key-file", required=True)
    p.add_argument("--sink", required=True, help="the dev-sink SMS file of the server")
    p.add_argument("--out", required=True)
    p.add_argument("--wrong", type=int, default=100)
    p.add_argument("--success", type=int, default=100)
    p.add_argument("--workers", type=int, default=2, help="client threads while preparing (default 2)")
    p.add_argument("--sms-timeout", type=float, default=30)
    s = commands.add_parser("success")
    s.add_argument("--url", required=True)
    s.add_argument("--key-file", required=True)
    s.add_argument("--sessions", required=True)
    s.add_argument("--concurrency", type=int, default=4)
    s.add_argument("--json", required=True)
    args = parser.parse_args()
    try:
        {"prepare": prepare, "success": success}[args.command](args)
    except (Failure, OSError) as error:
        sys.exit(f"[load-setup] ERROR: {error}")


if __name__ == "__main__":
    main()
