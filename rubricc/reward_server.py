"""`rubricc serve`: compiled rubrics behind HTTP, for trainers that ask a remote reward model.

An ASGI app run by uvicorn: protocol requests on raw ASGI messages (`ProtocolApp`), health,
metrics and the lifespan through starlette. Each rubric has one `Batcher` (`reward_batching.py`,
with the scoring and the metrics): requests put their rows in its queue, and one worker takes
whatever is waiting (up to `max_batch` rows, after waiting at most `max_wait` seconds for more)
and scores it in one `Scorer.score_rows` call, from a thread of its own, so the event loop keeps
accepting requests while a batch runs; `rubricc serve` without a judge scores each rubric in a
child process (`InProcess`), else here (`InThread`). The queue is bounded (`max_queue` rows): a request that would overflow it gets 429. On shutdown uvicorn
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
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from rubricc import types as t
from rubricc.data import DataRow, validate
from rubricc.reward_batching import (
    MAX_BATCH,
    MAX_QUEUE,
    MAX_WAIT,
    Batcher,
    Closing,
    InProcess,
    InThread,
    Metrics,
    QueueFull,
    invalid_result,
    load_scorers,
)


class BadRequest(Exception):
    """The request's JSON does not have the protocol's shape (400)."""


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
