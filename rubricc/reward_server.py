"""`rubricc serve`: compiled rubrics behind HTTP, for trainers that ask a remote reward model.

An ASGI app run by uvicorn: protocol requests on raw ASGI messages (`ProtocolApp`), health,
metrics and the lifespan through starlette. Each rubric has one `Batcher`: requests put their rows
in its queue, and one worker takes whatever is waiting (up to `max_batch` rows, after waiting at
most `max_wait` seconds for more) and scores it in one `Scorer.score_rows` call, from a thread of
its own, so the event loop keeps accepting requests while a batch runs; `rubricc serve` without
a judge scores each rubric in a child process (`InProcess`), else here (`InThread`). The queue
is bounded (`max_queue` rows): a request that would overflow it gets 429. On shutdown uvicorn
stops accepting, the requests in flight are answered (their batches finish), then the scorers
close.

Endpoints (each also under `/rubrics/NAME/...`; the bare path is the first rubric):

- `POST /score`: rubricc's own, `{"rows": [{column: value}]}` -> a result per row
- `POST /get_reward`: OpenRLHF's remote reward model (`--reward.remote_url`)
- `POST /slime`: slime's `--rm-type remote_rm` (one sample -> a number)
- `POST /verify`: a NeMo-Gym resources server's verify
- `GET /health`, `GET /metrics` (Prometheus text)

docs/integrations.md ("A reward server") has each protocol's request and answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import signal
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from rubricc import types as t
from rubricc.data import DataRow, finite, validate

MAX_BATCH = 256  # rows per score_rows call
MAX_WAIT = 0.002  # seconds a batch waits for more rows once one is waiting
MAX_QUEUE = 8192  # rows waiting, beyond which a request gets 429


class QueueFull(Exception):
    """The rubric's queue holds `max_queue` rows: the client should retry later (429)."""


class Closing(Exception):
    """The server is shutting down and takes no new work (503)."""


class BadRequest(Exception):
    """The request's JSON does not have the protocol's shape (400)."""


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


# ---- rows from each protocol ----------------------------------------------------------------------


@dataclass
class Rubric:
    name: str
    scorer: object
    batcher: Batcher
    label_column: str | None  # where a protocol's `label` goes when it is not an object

    def validated(self, rows: list[dict]) -> list[DataRow]:
        """Each row checked against the rubric's columns, as `rubricc score` checks a file's."""
        return [validate(DataRow(i + 1, row, ""), self.scorer.inputs_of(row), "request")
                for i, row in enumerate(rows)]

    async def score(self, rows: list[dict]) -> list[dict]:
        """A result per row: scored ones from the batcher, the others `invalid_result`."""
        checked = self.validated(rows)
        good = [r.data for r in checked if not r.problem]
        scored = iter(await self.batcher.submit(good))
        return [invalid_result(r.problem) if r.problem else next(scored) for r in checked]

    def columns(self, label) -> dict:
        """A protocol's label as columns: an object's keys are columns; anything else is the
        value of the label column (the rubric's one required input, or --label-column)."""
        if isinstance(label, dict):
            return dict(label)
        if label is None or self.label_column is None:
            return {}
        return {self.label_column: label}


def label_column(scorer, chosen: str | None = None) -> str | None:
    if chosen:
        return chosen
    required = [n for n, typ in scorer.inputs.items()
                if n not in ("response", "prompt") and not t.is_optional(typ)]
    return required[0] if len(required) == 1 else None


def _list(body: dict, key: str, size: int | None = None) -> list:
    value = body.get(key)
    if value is None and size is not None:
        return [None] * size
    if not isinstance(value, list) or (size is not None and len(value) != size):
        want = "a list" + (f" of {size}" if size is not None else "")
        raise BadRequest(f"`{key}` should be {want}")
    return value


def strip_prompt(query: str, prompt) -> str:
    """OpenRLHF sends `query`, the prompt and the response decoded together: the response is
    what follows the prompt (the whole query when it does not start with the prompt)."""
    if isinstance(prompt, str) and prompt and isinstance(query, str) and query.startswith(prompt):
        return query[len(prompt):]
    return query


async def native(rubric: Rubric, body, params) -> dict:
    rows = body.get("rows") if isinstance(body, dict) else body
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadRequest('the body should be {"rows": [{column: value}, ...]}')
    return {"rubric": rubric.name, "rows": await rubric.score(rows)}


async def openrlhf(rubric: Rubric, body, params) -> dict:
    """OpenRLHF's remote RM (openrlhf/utils/agent.py, `_fetch_rewards_via_http`):
    {"query", "prompts", "labels"} -> {"rewards", "scores", "extra_logs"}. A row without a
    reward gets 0 (the protocol has no null: OpenRLHF makes a tensor of each list) and
    `extra_logs.valid` 0."""
    if not isinstance(body, dict):
        raise BadRequest('the body should be {"query": [...], "prompts": [...], "labels": [...]}')
    queries = _list(body, "query")
    prompts = _list(body, "prompts", len(queries))
    labels = _list(body, "labels", len(queries))
    rows = [{"response": strip_prompt(q, p), **({"prompt": p} if p is not None else {}),
             **rubric.columns(label)} for q, p, label in zip(queries, prompts, labels)]
    results = await rubric.score(rows)
    rewards = [r["reward"] if r["reward"] is not None else 0.0 for r in results]
    logs = {name: [r["items"].get(name) or 0.0 for r in results] for name in rubric.scorer.names}
    logs["valid"] = [1.0 if r["valid"] else 0.0 for r in results]
    return {"rewards": rewards, "scores": rewards, "extra_logs": logs}


async def slime(rubric: Rubric, body, params):
    """slime's remote RM (slime/rollout/rm_hub, `remote_rm`): {"prompt", "response", "label"} ->
    the reward, a number (0 when the row has none); `?detail=1` answers the native row result
    instead (then set slime's --reward-key reward)."""
    if not isinstance(body, dict) or "response" not in body:
        raise BadRequest('the body should be {"prompt": ..., "response": ..., "label": ...}')
    row = {"response": body["response"], **rubric.columns(body.get("label"))}
    if body.get("prompt") is not None:
        row["prompt"] = body["prompt"]
    [result] = await rubric.score([row])
    if params.get("detail") in ("1", "true"):
        return result
    return result["reward"] if result["reward"] is not None else 0.0


def _text(content) -> str | None:
    """A Responses API message's content: a string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and p.get("type") in ("input_text", "output_text"))
    return None


async def nemo_gym(rubric: Rubric, body, params) -> dict:
    """A NeMo-Gym resources server's /verify (nemo_gym/base_resources_server.py): the request is
    `responses_create_params` (the prompt), `response` (an OpenAI Responses API object) and the
    task's own fields; the answer echoes it with `reward` and `reward_components` added."""
    if not isinstance(body, dict) or not isinstance(body.get("response"), dict):
        raise BadRequest('the body should be {"responses_create_params": {...}, '
                         '"response": {"output": [...]}, ...}')
    output = body["response"].get("output") or []
    response = "".join(_text(o.get("content")) or "" for o in output
                       if isinstance(o, dict) and o.get("type") == "message")
    row = {k: v for k, v in body.items() if k not in ("responses_create_params", "response")}
    row["response"] = response
    inputs = (body.get("responses_create_params") or {}).get("input")
    if isinstance(inputs, str):
        row["prompt"] = inputs
    elif isinstance(inputs, list):
        said = [_text(m.get("content")) for m in inputs
                if isinstance(m, dict) and m.get("role") == "user"]
        if said and said[-1] is not None:
            row["prompt"] = said[-1]
    col = rubric.label_column
    if col and col not in row and "expected_answer" in row:  # NeMo-Gym's name for the reference
        row[col] = row["expected_answer"]
    [result] = await rubric.score([row])
    answer = dict(body)
    answer["reward"] = result["reward"] if result["reward"] is not None else 0.0
    answer["reward_components"] = {k: v for k, v in result["items"].items() if v is not None}
    answer["rubricc_status"] = result["row_status"]
    if "error" in result:
        answer["rubricc_error"] = result["error"]
    return answer


PROTOCOLS = {"score": native, "get_reward": openrlhf, "slime": slime, "verify": nemo_gym}


# ---- the app --------------------------------------------------------------------------------------


def app(scorers: dict, judge=None, *, max_batch: int = MAX_BATCH, max_wait: float = MAX_WAIT,
        max_queue: int = MAX_QUEUE, label_columns: dict[str, str] | None = None,
        processes: dict[str, str] | None = None) -> ProtocolApp:
    """The ASGI app serving `scorers` (name -> compiled `Scorer`, the first the default). The app
    owns them: they are closed when it shuts down. A rubric named in `processes` (name -> its
    spec, `FILE` or `FILE#NAME`) is scored in a child process (`InProcess`, without a judge);
    its `Scorer` here only checks the rows."""
    if not scorers:
        raise ValueError("serve needs at least one rubric")
    metrics = Metrics()
    rubrics: dict[str, Rubric] = {}
    for name, scorer in scorers.items():
        scoring = InProcess(processes[name]) if name in (processes or {}) else InThread(scorer, judge)
        batcher = Batcher(name, scoring, metrics, max_batch, max_wait, max_queue)
        metrics.queues[name] = batcher
        rubrics[name] = Rubric(name, scorer, batcher,
                               label_column(scorer, (label_columns or {}).get(name)))
    default = next(iter(rubrics))

    async def answer(kind: str, name: str, body: bytes, params: dict) -> tuple[int, bytes]:
        """A protocol request's status and JSON answer; errors are answers too."""
        started = time.perf_counter()
        rubric = rubrics.get(name)
        code, answer = 200, None
        try:
            if rubric is None:
                code, answer = 404, {"error": f"no rubric {name!r} (serving: {', '.join(rubrics)})"}
            else:
                try:
                    parsed = json.loads(body)
                except ValueError as exc:
                    raise BadRequest(f"the body is not JSON: {exc}") from exc
                answer = await PROTOCOLS[kind](rubric, parsed, params)
        except BadRequest as exc:
            code, answer = 400, {"error": str(exc)}
        except QueueFull as exc:
            code, answer = 429, {"error": f"busy: {exc}"}
        except Closing as exc:
            code, answer = 503, {"error": str(exc)}
        except Exception as exc:  # the batch failed: every request in it says why
            code, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
        encoded = json.dumps(answer, allow_nan=False).encode()
        metrics.request(name if rubric else "?", kind, code, time.perf_counter() - started)
        return code, encoded

    async def health(request: Request) -> Response:
        closing = any(r.batcher.closing for r in rubrics.values())
        return JSONResponse({"status": "closing" if closing else "ok", "rubrics": list(rubrics),
                             "default": default}, 503 if closing else 200)

    async def show_metrics(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        for r in rubrics.values():
            await asyncio.to_thread(r.batcher.scoring.start)
            r.batcher.start()
        try:
            yield
        finally:  # uvicorn has answered the requests in flight by now
            for r in rubrics.values():
                await r.batcher.close()
                r.scorer.close()

    routes = [Route("/health", health, methods=["GET"]),
              Route("/metrics", show_metrics, methods=["GET"])]
    rest = Starlette(routes=routes, lifespan=lifespan)
    rest.state.rubrics = rubrics
    rest.state.metrics = metrics
    return ProtocolApp(answer, default, rest)


class ProtocolApp:
    """The ASGI app. Protocol requests (`/KIND`, `/rubrics/NAME/KIND`) are read and answered here
    on raw ASGI messages; everything else (health, metrics, the lifespan, 404s) goes to `rest`, a
    Starlette app. With one row per request the server's event loop is the bottleneck, and
    Starlette's middleware, routing, request and response objects took about a fifth of its time
    per request (docs/benchmarks.md, "The reward server")."""

    def __init__(self, answer, default: str, rest: Starlette):
        self.answer, self.default, self.rest = answer, default, rest
        self.state = rest.state

    def route(self, path: str) -> tuple[str, str] | None:
        """(protocol, rubric name) of a protocol path, else None."""
        parts = path.split("/")
        if len(parts) == 2 and parts[1] in PROTOCOLS:
            return parts[1], self.default
        if len(parts) == 4 and parts[1] == "rubrics" and parts[3] in PROTOCOLS:
            return parts[3], parts[2]
        return None

    async def __call__(self, scope, receive, send) -> None:
        routed = self.route(scope["path"]) if scope["type"] == "http" else None
        if routed is None:
            return await self.rest(scope, receive, send)
        if scope["method"] != "POST":
            return await self.send(send, 405, b'{"error": "use POST"}', [(b"allow", b"POST")])
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        code, body = await self.answer(*routed, b"".join(chunks), params)
        await self.send(send, code, body, [(b"retry-after", b"1")] if code == 429 else [])

    @staticmethod
    async def send(send, code: int, body: bytes, headers: list) -> None:
        await send({"type": "http.response.start", "status": code, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            *headers]})
        await send({"type": "http.response.body", "body": body})


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


def serve(specs: list[str], host: str = "127.0.0.1", port: int = 8000, judge=None,
          max_batch: int = MAX_BATCH, max_wait: float = MAX_WAIT, max_queue: int = MAX_QUEUE,
          label_column: str | None = None, log_level: str = "warning") -> None:
    """Run the server until SIGINT or SIGTERM; in-flight requests are answered before it exits."""
    import uvicorn

    scorers = load_scorers(specs)
    columns = {name: label_column for name in scorers} if label_column else None
    # without a judge each rubric scores in a process of its own; a judge stays here (a local
    # model is loaded once, and an API judge waits on the network, not on the CPU)
    processes = dict(zip(scorers, specs)) if judge is None else None
    served = app(scorers, judge, max_batch=max_batch, max_wait=max_wait, max_queue=max_queue,
                 label_columns=columns, processes=processes)
    print(f"rubricc serve: {', '.join(scorers)} on http://{host}:{port} "
          f"(default {next(iter(scorers))})", flush=True)
    uvicorn.run(served, host=host, port=port, log_level=log_level, access_log=False)
