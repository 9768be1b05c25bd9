"""How `rubricc serve` scores: one `Batcher` per rubric gathers the rows of concurrent requests
into `Scorer.score_rows` calls, made in a child process (`InProcess`, compiled there from the
rubric's spec) or in this one (`InThread`, with a judge); `Metrics` keeps the Prometheus account.
The HTTP side, the protocols and the app are `reward_server.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rubricc.data import finite

MAX_BATCH = 256  # rows per score_rows call
MAX_WAIT = 0.002  # seconds a batch waits for more rows once one is waiting
MAX_QUEUE = 8192  # rows waiting, beyond which a request gets 429


class QueueFull(Exception):
    """The rubric's queue holds `max_queue` rows: the client should retry later (429)."""


class Closing(Exception):
    """The server is shutting down and takes no new work (503)."""


# ---- metrics ------------------------------------------------------------------------------------

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Histogram:
    def __init__(self, buckets: tuple):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.sum = 0.0
        self.count = 0

    def observe(self, x: float) -> None:
        self.sum += x
        self.count += 1
        for i, bound in enumerate(self.buckets):
            if x <= bound:
                self.counts[i] += 1

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        out = [f'{name}_bucket{{{labels}{sep}le="{b}"}} {c}' for b, c in zip(self.buckets, self.counts)]
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        out.append(f"{name}_sum{{{labels}}} {self.sum:.6f}")
        out.append(f"{name}_count{{{labels}}} {self.count}")
        return out


class Metrics:
    """Counters, gauges and histograms, written in Prometheus' text format. Updated from the event
    loop and the scoring threads, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = Counter()  # (rubric, endpoint, code)
        self.rows = Counter()  # (rubric, row status)
        self.batches = Counter()  # rubric
        self.score_seconds = Counter()  # rubric
        self.batch_rows: dict[str, Histogram] = {}
        self.latency: dict[tuple, Histogram] = {}  # (rubric, endpoint)
        self.queues: dict[str, Batcher] = {}

    def request(self, rubric: str, endpoint: str, code: int, seconds: float) -> None:
        with self.lock:
            self.requests[rubric, endpoint, code] += 1
            self.latency.setdefault((rubric, endpoint), Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, rubric: str, statuses: list[str], seconds: float) -> None:
        with self.lock:
            self.batches[rubric] += 1
            self.score_seconds[rubric] += seconds
            self.rows.update((rubric, s) for s in statuses)
            self.batch_rows.setdefault(rubric, Histogram(BATCH_BUCKETS)).observe(len(statuses))

    def render(self) -> str:
        lines = []

        def head(name: str, kind: str, text: str) -> None:
            lines.extend([f"# HELP {name} {text}", f"# TYPE {name} {kind}"])

        with self.lock:
            head("rubricc_requests_total", "counter", "HTTP requests answered, by status code")
            for (rubric, endpoint, code), n in sorted(self.requests.items()):
                lines.append(f'rubricc_requests_total{{rubric="{rubric}",endpoint="{endpoint}",'
                             f'code="{code}"}} {n}')
            head("rubricc_rows_total", "counter", "rows scored, by row status (ok, gated, error, "
                 "timeout; invalid: not scorable, never sent to the scorer)")
            for (rubric, status), n in sorted(self.rows.items()):
                lines.append(f'rubricc_rows_total{{rubric="{rubric}",status="{status}"}} {n}')
            head("rubricc_batches_total", "counter", "score_rows calls")
            for rubric, n in sorted(self.batches.items()):
                lines.append(f'rubricc_batches_total{{rubric="{rubric}"}} {n}')
            head("rubricc_score_seconds_total", "counter", "seconds spent inside score_rows")
            for rubric, s in sorted(self.score_seconds.items()):
                lines.append(f'rubricc_score_seconds_total{{rubric="{rubric}"}} {s:.6f}')
            head("rubricc_batch_rows", "histogram", "rows per score_rows call")
            for rubric, h in sorted(self.batch_rows.items()):
                lines.extend(h.lines("rubricc_batch_rows", f'rubric="{rubric}"'))
            head("rubricc_queue_rows", "gauge", "rows waiting for a batch")
            for rubric, b in sorted(self.queues.items()):
                lines.append(f'rubricc_queue_rows{{rubric="{rubric}"}} {b.rows_waiting}')
            head("rubricc_request_seconds", "histogram", "request latency, from reading the body "
                 "to the answer")
            for (rubric, endpoint), h in sorted(self.latency.items()):
                lines.extend(h.lines("rubricc_request_seconds",
                                     f'rubric="{rubric}",endpoint="{endpoint}"'))
        return "\n".join(lines) + "\n"


# ---- batching -----------------------------------------------------------------------------------


def row_result(result) -> dict:
    """A scored row as the native endpoint answers it (`rubricc score`'s output fields)."""
    out = {"reward": finite(result.total), "valid": result.total is not None,
           "items": {k: finite(v.value) for k, v in result.items.items()},
           "status": {k: v.status for k, v in result.items.items()},
           "row_status": result.status}
    if result.message:
        out["error"] = result.message
    return out


def invalid_result(problem: str) -> dict:
    return {"reward": None, "valid": False, "items": {}, "status": {}, "row_status": "invalid",
            "error": problem}


class InThread:
    """A rubric scored in this process, by the `Scorer` given (and its judge)."""

    def __init__(self, scorer, judge):
        self.scorer, self.judge = scorer, judge

    def start(self) -> None:
        pass

    def results(self, rows: list[dict]) -> list[dict]:
        return [row_result(r) for r in self.scorer.score_rows(rows, judge=self.judge).rows]

    def close(self) -> None:
        self.scorer.close()


class ScoringFailed(Exception):
    """A batch failed in the scoring process (its message is the exception there)."""


class InProcess:
    """A rubric scored in a child process, compiled there from its spec (`FILE` or `FILE#NAME`;
    a Scorer cannot be pickled). With one row per request the server's event loop is its
    bottleneck, and in one process the scoring thread's own Python work (the kernels, handing
    heavy calls to the worker pool) takes the GIL from it. A batch's rows go to the child and
    its results come back as one pickled message each way. The child ignores SIGINT (the server
    stops it after the batches in flight) and exits when its pipe closes."""

    def __init__(self, spec: str):
        self.spec = spec
        self.process = self.conn = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # the parent holds threads and torch
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_scoring_main, args=(child, self.spec),
                                       name=f"rubricc-score {self.spec}")
        self.process.start()
        child.close()
        status, value = self._receive()
        if status != "ready":
            raise ScoringFailed(value)

    def results(self, rows: list[dict]) -> list[dict]:
        if self.process is None or not self.process.is_alive():  # not started, or it died
            self.start()
        self.conn.send(rows)
        status, value = self._receive()
        if status != "ok":
            raise ScoringFailed(value)
        return value

    def _receive(self) -> tuple[str, object]:
        try:
            return self.conn.recv()
        except EOFError:
            self.process.join(5)
            return "error", f"the scoring process exited (code {self.process.exitcode})"

    def close(self) -> None:
        if self.process is not None:
            self.conn.close()  # the child's recv sees the end and it exits, closing its scorer
            self.process.join(60)
            if self.process.is_alive():
                self.process.kill()
            self.process = None


def _scoring_main(conn, spec: str) -> None:
    """The child of `InProcess`: ("ready", None), then for each batch of rows ("ok", results)
    or ("error", why)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        [scorer] = load_scorers([spec]).values()
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    scoring = InThread(scorer, None)
    try:
        while True:
            try:
                rows = conn.recv()
            except EOFError:
                return
            try:
                conn.send(("ok", scoring.results(rows)))
            except Exception as exc:  # the batch failed (a bug): its requests say why
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        scoring.close()


class Batcher:
    """One rubric's queue and worker. `submit` is called on the event loop; the worker scores
    one batch at a time on its own thread (`scoring`: `InThread` or `InProcess`), so one scorer
    is never called from two threads."""

    def __init__(self, name: str, scoring, metrics: Metrics, max_batch: int = MAX_BATCH,
                 max_wait: float = MAX_WAIT, max_queue: int = MAX_QUEUE):
        self.name, self.scoring, self.metrics = name, scoring, metrics
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait, max_queue
        self.waiting: deque[tuple[list[dict], asyncio.Future]] = deque()
        self.rows_waiting = 0
        self.closing = False
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"rubricc-score-{name}")
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.wake = asyncio.Event()
        self.full = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def submit(self, rows: list[dict]) -> list[dict]:
        """Each row's result (`row_result`), once the batch holding them is scored."""
        if self.closing:
            raise Closing("the server is shutting down")
        if not rows:
            return []
        if self.rows_waiting and self.rows_waiting + len(rows) > self.max_queue:
            raise QueueFull(f"{self.rows_waiting} rows are waiting (--max-queue {self.max_queue})")
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((rows, future))
        self.rows_waiting += len(rows)
        self.wake.set()
        if self.rows_waiting >= self.max_batch:
            self.full.set()
        return await future

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            if not self.waiting:
                if self.closing:
                    return
                self.wake.clear()
                continue
            if self.rows_waiting < self.max_batch and self.max_wait > 0 and not self.closing:
                self.full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.full.wait(), self.max_wait)
            jobs, size = [], 0
            while self.waiting and (not jobs or size + len(self.waiting[0][0]) <= self.max_batch):
                rows, future = self.waiting.popleft()
                self.rows_waiting -= len(rows)
                if not future.done():  # a client that went away cancels its future
                    jobs.append((rows, future))
                    size += len(rows)
            if not jobs:
                continue
            try:
                results = await loop.run_in_executor(
                    self.executor, self.score, [r for rows, _ in jobs for r in rows])
            except Exception as exc:  # the whole batch failed (no judge, a bug): every request says so
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for rows, future in jobs:
                if not future.done():
                    future.set_result(results[start:start + len(rows)])
                start += len(rows)

    def score(self, rows: list[dict]) -> list[dict]:
        started = time.perf_counter()
        results = self.scoring.results(rows)
        self.metrics.batch(self.name, [r["row_status"] for r in results],
                           time.perf_counter() - started)
        return results

    async def close(self) -> None:
        """Score what is still waiting, then stop the worker and close the scorer."""
        self.closing = True
        self.wake.set()
        self.full.set()
        if self.task is not None:
            await self.task
        self.executor.shutdown(wait=True)
        self.scoring.close()


def load_scorers(specs: list[str]) -> dict:
    """`FILE` or `FILE#NAME` (a file holding several rubrics) -> name -> compiled Scorer."""
    from rubricc.pipeline import compile

    scorers = {}
    for spec in specs:
        path, _, name = spec.partition("#")
        scorer = compile(Path(path), rubric=name or None)
        if scorer.name in scorers:
            raise ValueError(f"rubric {scorer.name} is named twice")
        scorers[scorer.name] = scorer
    return scorers
