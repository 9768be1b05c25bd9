r"""The reward server: rows per second over HTTP against the same rows scored in-process.

    python bench/reward_server.py [--rows 4000] [--clients 32] [--repeats 3] [--max-batch 256]

Both sides score `rubrics/math/answer.rubric` on the same distinct rows (every response carries
its row's number; one in three is wrong):

- **in-process**: `Scorer.score_rows` in chunks of `--max-batch` rows, the server's own batch
  size: the ceiling the server could reach with no HTTP and no waiting.
- **server**: `rubricc serve` in a subprocess; `--clients` threads on keep-alive `http.client`
  connections each send one-row `POST /score` requests, as a trainer's rollout workers would,
  and the server micro-batches them. Latency is per request, measured by the client.

Every answer is checked against the in-process reward (else exit status 1). Each side runs
`--repeats` times, alternating, after a warm-up; the script prints the medians and last
`ratio: X.XX` (server rows/s over in-process rows/s).
"""

from __future__ import annotations

import argparse
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


def over_http(port: int, rows: list[dict], clients: int) -> tuple[float, list[float], list[float]]:
    rewards: list[float | None] = [None] * len(rows)
    latencies: list[float] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = []
        for i in range(c, len(rows), clients):
            sent = time.perf_counter()
            conn.request("POST", "/score", json.dumps({"rows": [rows[i]]}),
                         {"Content-Type": "application/json"})
            response = conn.getresponse()
            body = json.loads(response.read())
            mine.append(time.perf_counter() - sent)
            assert response.status == 200, body
            rewards[i] = body["rows"][0]["reward"]
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client, c) for c in range(clients)]:
            f.result()
    return time.perf_counter() - started, rewards, latencies


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=4000)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-batch", type=int, default=256)
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
        over_http(port, warm, args.clients)

        direct_s, served_s, p50s, p99s, wrong = [], [], [], [], 0
        for repeat in range(args.repeats):
            rows = rows_for(args.rows, offset=repeat * args.rows)  # no cache helps either side
            took, want = in_process(scorer, rows, args.max_batch)
            direct_s.append(took)
            took, got, latencies = over_http(port, rows, args.clients)
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
    print(f"{args.rows} rows, {args.clients} clients, one row per request, --max-batch "
          f"{args.max_batch}; load average {os.getloadavg()[0]:.2f}")
    print(f"in-process score_rows: {direct:.0f} rows/s (median of {args.repeats})")
    print(f"server over HTTP:      {served:.0f} rows/s, latency p50 "
          f"{statistics.median(p50s) * 1000:.1f} ms, p99 {statistics.median(p99s) * 1000:.1f} ms")
    print(f"answers that differ from in-process: {wrong}")
    print(f"ratio: {served / direct:.2f}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
