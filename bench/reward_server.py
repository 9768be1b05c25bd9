r"""The reward server: rows per second over HTTP against the same rows scored in-process.

    python bench/reward_server.py [--rows 4000] [--clients 32] [--repeats 3] [--max-batch 256]
                                  [--client lean|http.client] [--rows-per-request 1]

Both sides score `rubrics/math/answer.rubric` on the same distinct rows (every response carries
its row's number; one in three is wrong):

- **in-process**: `Scorer.score_rows` in chunks of `--max-batch` rows, the server's own batch
  size: the ceiling the server could reach with no HTTP and no waiting.
- **server**: `rubricc serve` in a subprocess; `--clients` threads on keep-alive connections
  each send one-row `POST /score` requests, as a trainer's rollout workers would, and the server
  micro-batches them (`--rows-per-request N`: N rows a request, as OpenRLHF sends a list).
  Latency is per request, measured by the client. `--client lean` (the default) speaks HTTP/1.1
  on a bare socket, `--client http.client` through the standard library, which costs the shared
  cores two to three times the CPU per request.

The CPU each side used per row (psutil, every process of the side) is printed too: where other
jobs keep the cores busy, throughput follows it.

Every answer is checked against the in-process reward (else exit status 1). Each side runs
`--repeats` times, alternating, after a warm-up; the script prints the medians and last
`ratio: X.XX` (server rows/s over in-process rows/s).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil  # peft's dependency, so always installed

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "math" / "answer.rubric"


def rows_for(n: int, offset: int = 0) -> list[dict]:
    return [{"prompt": f"request {i}: what is {i} + 1?", "answer": str(i + 1),
             "response": f"request {i}: the sum is \\boxed{{{i + 1 if i % 3 else i + 2}}}"}
            for i in range(offset, offset + n)]


def in_process(scorer, rows: list[dict], batch: int) -> tuple[float, list[float]]:
    started = time.perf_counter()
    rewards = []
    for start in range(0, len(rows), batch):
        rewards += [r.total for r in scorer.score_rows(rows[start:start + batch]).rows]
    return time.perf_counter() - started, rewards


class LeanConnection:
    """HTTP/1.1 keep-alive POSTs on a bare socket: the status line, Content-Length and the body
    are all it reads. The load generator shares the machine's cores with the server, and
    `http.client` (headers parsed by `email.parser`) spends two to three times the CPU per
    request."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.sock.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                          b"\r\nContent-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))
        while b"\r\n\r\n" not in self.buffer:
            self.read()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(int(line.split(b":", 1)[1]) for line in lines[1:]
                      if line.lower().startswith(b"content-length:"))
        while len(self.buffer) < length:
            self.read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(lines[0].split()[1]), body

    def read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


class StdlibConnection:
    """The same through `http.client`, as most Python clients would send it."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


CLIENTS = {"lean": LeanConnection, "http.client": StdlibConnection}


def over_http(port: int, rows: list[dict], clients: int, connection=LeanConnection,
              per_request: int = 1) -> tuple[float, list[float], list[float]]:
    rewards: list[float | None] = [None] * len(rows)
    latencies: list[float] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        conn = connection(port)
        mine = []
        for i in range(c * per_request, len(rows), clients * per_request):
            sent = time.perf_counter()
            mine_rows = rows[i:i + per_request]
            status, raw = conn.post("/score", json.dumps({"rows": mine_rows}).encode())
            body = json.loads(raw)
            mine.append(time.perf_counter() - sent)
            assert status == 200 and len(body["rows"]) == len(mine_rows), body
            rewards[i:i + len(mine_rows)] = [r["reward"] for r in body["rows"]]
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client, c) for c in range(clients)]:
            f.result()
    return time.perf_counter() - started, rewards, latencies


def cpu_seconds(process: psutil.Process, children: bool = True) -> float:
    """User and system CPU of `process` and, with `children`, of the processes it started."""
    tree = [process, *(process.children(recursive=True) if children else [])]
    total = 0.0
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=4000)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-batch", type=int, default=256)
    p.add_argument("--rows-per-request", type=int, default=1)
    p.add_argument("--client", choices=list(CLIENTS), default="lean",
                   help="how the load generator speaks HTTP (LeanConnection, StdlibConnection)")
    args = p.parse_args()

    from rubricc.pipeline import compile

    scorer = compile(RUBRIC)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "rubricc.cli", "serve", str(RUBRIC),
                               "--port", str(port), "--max-batch", str(args.max_batch)],
                              cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        warm = rows_for(256, offset=10 ** 6)
        in_process(scorer, warm, args.max_batch)
        over_http(port, warm, args.clients, CLIENTS[args.client])

        me, served_tree = psutil.Process(), psutil.Process(server.pid)
        direct_s, served_s, p50s, p99s, wrong = [], [], [], [], 0
        cpu = {"in-process": [], "server": [], "clients": []}  # CPU seconds per row, each run
        for repeat in range(args.repeats):
            rows = rows_for(args.rows, offset=repeat * args.rows)  # no cache helps either side
            before = cpu_seconds(me)
            took, want = in_process(scorer, rows, args.max_batch)
            cpu["in-process"].append((cpu_seconds(me) - before) / args.rows)
            direct_s.append(took)
            before = cpu_seconds(served_tree), cpu_seconds(me, children=False)
            took, got, latencies = over_http(port, rows, args.clients, CLIENTS[args.client],
                                             args.rows_per_request)
            cpu["server"].append((cpu_seconds(served_tree) - before[0]) / args.rows)
            cpu["clients"].append((cpu_seconds(me, children=False) - before[1]) / args.rows)
            served_s.append(took)
            p50s.append(percentile(latencies, 0.5))
            p99s.append(percentile(latencies, 0.99))
            wrong += sum(g != w for g, w in zip(got, want))
            print(f"run {repeat + 1}: in-process {args.rows / direct_s[-1]:.0f} rows/s, server "
                  f"{args.rows / took:.0f} rows/s, p50 {p50s[-1] * 1000:.1f} ms, "
                  f"p99 {p99s[-1] * 1000:.1f} ms", flush=True)
    finally:
        server.terminate()
        server.wait(60)
        scorer.close()

    direct = args.rows / statistics.median(direct_s)
    served = args.rows / statistics.median(served_s)
    print(f"{args.rows} rows, {args.clients} clients ({args.client}), {args.rows_per_request} "
          f"row(s) per request, --max-batch {args.max_batch}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"in-process score_rows: {direct:.0f} rows/s (median of {args.repeats})")
    print(f"server over HTTP:      {served:.0f} rows/s, latency p50 "
          f"{statistics.median(p50s) * 1000:.1f} ms, p99 {statistics.median(p99s) * 1000:.1f} ms")
    print("CPU per row (ms, medians; all processes of each side): " + ", ".join(
        f"{side} {statistics.median(xs) * 1000:.3f}" for side, xs in cpu.items()))
    print(f"answers that differ from in-process: {wrong}")
    print(f"ratio: {served / direct:.2f}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
