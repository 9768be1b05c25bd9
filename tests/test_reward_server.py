"""`rubricc serve`: a real server on 127.0.0.1 (uvicorn in a thread, or the CLI in a subprocess),
asked over HTTP in each protocol it speaks, and checked against a direct `score_rows`."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn

from rubricc.pipeline import compile
from rubricc.reward_server import app
from tests.conftest import ROOT

MATH = ROOT / "rubrics" / "math" / "answer.rubric"


@pytest.fixture(scope="module")
def direct():
    scorer = compile(MATH)
    yield scorer
    scorer.close()


class Running:
    """uvicorn serving `served` in a thread, on a port the OS picked."""

    def __init__(self, served):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(served, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        assert not self.thread.is_alive()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def post(port: int, path: str, body, conn: http.client.HTTPConnection | None = None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        if own:
            conn.close()


def get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def expected(direct, rows: list[dict]) -> list[dict]:
    batch = direct.score_rows(rows)
    return [{"reward": r.total, "items": {k: v.value for k, v in r.items.items()},
             "status": {k: v.status for k, v in r.items.items()}} for r in batch.rows]


# ---- each protocol ------------------------------------------------------------------------------


def test_each_protocol_answers_what_score_rows_gives(direct):
    rows = [{"prompt": "What is 1/2 + 1/4?", "answer": "3/4", "response": "so \\boxed{0.75}"},
            {"prompt": "What is 2+2?", "answer": "4", "response": "2 + 2 = \\boxed{5}"},
            {"prompt": "What is 2+2?", "answer": "4", "response": "I do not know"}]
    want = expected(direct, rows)
    with Running(app({"math.answer": compile(MATH)})) as s:
        status, health = get(s.port, "/health")
        assert status == 200 and json.loads(health)["rubrics"] == ["math.answer"]

        # native: rows in, reward/valid/items/status per row; a row missing a column is null
        status, got = post(s.port, "/score", {"rows": [*rows, {"response": "\\boxed{1}"}]})
        assert status == 200 and got["rubric"] == "math.answer"
        for g, w in zip(got["rows"], want):
            assert (g["reward"], g["items"], g["status"]) == (w["reward"], w["items"], w["status"])
            assert g["valid"] is True
        assert got["rows"][3]["reward"] is None and got["rows"][3]["valid"] is False
        assert got["rows"][3]["row_status"] == "invalid" and "`answer`" in got["rows"][3]["error"]

        # the same under /rubrics/NAME/
        status, named = post(s.port, "/rubrics/math.answer/score", {"rows": rows})
        assert status == 200 and named["rows"] == got["rows"][:3]
        status, missing = post(s.port, "/rubrics/nope/score", {"rows": rows})
        assert status == 404 and "math.answer" in missing["error"]

        # OpenRLHF: query = prompt + response; labels fill the rubric's one input (`answer`)
        status, got = post(s.port, "/get_reward", {
            "query": [r["prompt"] + r["response"] for r in rows] + ["no prompt here \\boxed{4}"],
            "prompts": [r["prompt"] for r in rows] + ["What is 2+2?"],
            "labels": [r["answer"] for r in rows] + [{"answer": "4"}]})
        assert status == 200
        assert got["rewards"] == [w["reward"] for w in want] + [1.0]
        assert got["scores"] == got["rewards"]
        assert got["extra_logs"]["correct"] == [1.0, 0.0, 0.0, 1.0]
        assert got["extra_logs"]["valid"] == [1.0, 1.0, 1.0, 1.0]
        status, got = post(s.port, "/get_reward", {"query": ["x"], "prompts": ["p"],
                                                   "labels": [None]})
        assert status == 200 and got["rewards"] == [0.0] and got["extra_logs"]["valid"] == [0.0]
        assert post(s.port, "/get_reward", {"query": "x"})[0] == 400

        # slime: one sample -> a number; ?detail=1 -> the native row
        for row, w in zip(rows, want):
            sample = {"prompt": row["prompt"], "response": row["response"], "label": row["answer"]}
            assert post(s.port, "/slime", sample) == (200, w["reward"])
            status, detail = post(s.port, "/slime?detail=1", sample)
            assert detail["reward"] == w["reward"] and detail["items"] == w["items"]

        # NeMo-Gym: the Responses API output's text; expected_answer fills `answer`; echoed back
        for row, w in zip(rows, want):
            body = {"responses_create_params": {"input": [{"role": "user", "content": row["prompt"]}]},
                    "response": {"id": "resp_1", "object": "response", "output": [
                        {"type": "message", "role": "assistant", "content": [
                            {"type": "output_text", "text": row["response"], "annotations": []}]}]},
                    "expected_answer": row["answer"]}
            status, got = post(s.port, "/verify", body)
            assert status == 200 and got["reward"] == w["reward"]
            assert got["reward_components"] == {k: v for k, v in w["items"].items() if v is not None}
            assert got["expected_answer"] == row["answer"] and got["response"] == body["response"]
            assert got["rubricc_status"] in ("ok", "gated")

        assert post(s.port, "/score", {"rows": "nope"})[0] == 400
        assert get(s.port, "/score")[0] == 405 and get(s.port, "/nope")[0] == 404
        status, text = get(s.port, "/metrics")
        assert status == 200
        assert 'rubricc_requests_total{rubric="math.answer",endpoint="score",code="200"} 2' in text
        assert "rubricc_batch_rows_count" in text and "rubricc_queue_rows" in text
        assert "rubricc_request_seconds_bucket" in text


def test_a_rubric_scored_in_a_process_of_its_own(direct):
    # what `rubricc serve` does without a judge: the rubric compiled and scored in a child
    rows = load_rows(40) + [{"response": "\\boxed{1}"}]
    served = app({"math.answer": compile(MATH)}, processes={"math.answer": str(MATH)})
    scoring = served.state.rubrics["math.answer"].batcher.scoring
    with Running(served) as s:
        child = scoring.process
        assert child.is_alive() and child.pid != os.getpid()
        status, got = post(s.port, "/score", {"rows": rows})
    assert status == 200
    for g, w in zip(got["rows"], expected(direct, rows[:40])):
        assert (g["reward"], g["items"], g["status"]) == (w["reward"], w["items"], w["status"])
    assert got["rows"][40]["row_status"] == "invalid"  # checked here, never sent to the child
    assert not child.is_alive(), "the scoring process outlived the server"


# ---- back-pressure and shutdown ---------------------------------------------------------------


class Held:
    """A scorer that waits for `release` before each batch: work piles up behind it."""

    def __init__(self, scorer):
        self.scorer = scorer
        self.release = threading.Event()
        self.scoring = threading.Event()
        self.closed = False

    def __getattr__(self, name):
        return getattr(self.scorer, name)

    def score_rows(self, rows, judge=None):
        self.scoring.set()
        assert self.release.wait(60)
        return self.scorer.score_rows(rows, judge=judge)

    def close(self):
        self.closed = True
        self.scorer.close()


def test_a_full_queue_answers_429_and_the_rest_are_scored(direct):
    held = Held(compile(MATH))
    served = app({"math.answer": held}, max_batch=1, max_wait=0, max_queue=4)
    batcher = served.state.rubrics["math.answer"].batcher
    row = {"answer": "4", "response": "\\boxed{4}"}
    with Running(served) as s, ThreadPoolExecutor(8) as pool:
        first = pool.submit(post, s.port, "/score", {"rows": [row]})
        assert held.scoring.wait(30)  # the first batch is being scored, and held
        waiting = [pool.submit(post, s.port, "/score", {"rows": [row]}) for _ in range(4)]
        deadline = time.monotonic() + 30
        while batcher.rows_waiting < 4:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        status, answer = post(s.port, "/get_reward", {"query": ["\\boxed{4}"], "labels": ["4"]})
        assert status == 429 and "busy" in answer["error"]
        held.release.set()
        for future in [first, *waiting]:
            assert future.result(60) == (200, {"rubric": "math.answer", "rows": [
                {"reward": 1.0, "valid": True, "items": {"has_answer": 1.0, "correct": 1.0},
                 "status": {"has_answer": "ok", "correct": "ok"}, "row_status": "ok"}]})
        text = get(s.port, "/metrics")[1]
        assert 'code="429"} 1' in text


def test_shutdown_finishes_the_batches_in_flight(direct):
    held = Held(compile(MATH))
    served = app({"math.answer": held}, max_batch=2, max_wait=0)
    rows = [{"answer": str(i), "response": f"\\boxed{{{i}}}"} for i in range(5)]
    s = Running(served)
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(post, s.port, "/score", {"rows": rows[:1]})
        assert held.scoring.wait(30)
        rest = [pool.submit(post, s.port, "/score", {"rows": [r]}) for r in rows[1:]]
        time.sleep(0.3)  # the other requests are queued behind the held batch
        stopping = threading.Thread(target=s.stop)
        stopping.start()
        time.sleep(0.3)
        assert s.thread.is_alive(), "the server stopped with work in flight"
        held.release.set()
        stopping.join(60)
        answers = [f.result(60) for f in [first, *rest]]
    assert [status for status, _ in answers] == [200] * 5
    assert [a["rows"][0]["reward"] for _, a in answers] == [1.0] * 5
    assert held.closed, "the scorer was not closed on shutdown"
    with pytest.raises(ConnectionRefusedError):
        get(s.port, "/health")


# ---- load ------------------------------------------------------------------------------------------

CLIENTS = 32
REQUESTS = 10_000


def load_rows(n: int) -> list[dict]:
    """Distinct rows: each response carries its request's id; one in three is wrong."""
    return [{"prompt": f"request {i}: what is {i} + 1?", "answer": str(i + 1),
             "response": f"request {i}: the sum is \\boxed{{{i + 1 if i % 3 else i + 2}}}"}
            for i in range(n)]


def ask(port: int, i: int, row: dict, conn) -> tuple[float, list]:
    """Request i, in one of four protocols by i % 4; its reward and items as answered."""
    kind = i % 4
    if kind == 0:
        status, got = post(port, "/score", {"rows": [row]}, conn)
        assert status == 200, got
        r = got["rows"][0]
        return r["reward"], [r["items"]["has_answer"], r["items"]["correct"]]
    if kind == 1:
        status, got = post(port, "/get_reward", {"query": [row["prompt"] + row["response"]],
                                                 "prompts": [row["prompt"]],
                                                 "labels": [row["answer"]]}, conn)
        assert status == 200, got
        logs = got["extra_logs"]
        return got["rewards"][0], [logs["has_answer"][0], logs["correct"][0]]
    if kind == 2:
        status, got = post(port, "/slime?detail=1", {"prompt": row["prompt"], "response":
                                                     row["response"], "label": row["answer"]}, conn)
        assert status == 200, got
        return got["reward"], [got["items"]["has_answer"], got["items"]["correct"]]
    status, got = post(port, "/rubrics/math.answer/verify", {
        "responses_create_params": {"input": row["prompt"]},
        "response": {"output": [{"type": "message", "content": [
            {"type": "output_text", "text": row["response"]}]}]},
        "expected_answer": row["answer"], "request_id": i}, conn)
    assert status == 200 and got["request_id"] == i, got
    return got["reward"], [got["reward_components"]["has_answer"], got["reward_components"]["correct"]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_load_32_clients_lose_and_duplicate_nothing(direct, capsys):
    rows = load_rows(REQUESTS)
    port = free_port()
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, "-m", "rubricc.cli", "serve", str(MATH),
                               "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(port, "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
            time.sleep(0.1)
        answers: dict[int, tuple] = {}
        latencies: list[float] = []
        lock = threading.Lock()

        def client(c: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                for i in range(c, REQUESTS, CLIENTS):
                    started = time.perf_counter()
                    answer = ask(port, i, rows[i], conn)
                    with lock:
                        assert i not in answers, f"request {i} answered twice"
                        answers[i] = answer
                        latencies.append(time.perf_counter() - started)
            finally:
                conn.close()

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            for f in [pool.submit(client, c) for c in range(CLIENTS)]:
                f.result()
        took = time.perf_counter() - started
        metrics = get(port, "/metrics")[1]
    finally:
        server.terminate()
        server.wait(60)
    assert sorted(answers) == list(range(REQUESTS)), "answers lost"
    want = expected(direct, rows)
    for i, w in enumerate(want):
        assert answers[i] == (w["reward"], [w["items"]["has_answer"], w["items"]["correct"]]), i
    assert sum(a[0] for a in answers.values()) == sum(1 for i in range(REQUESTS) if i % 3)
    batches = next(float(line.split()[-1]) for line in metrics.splitlines()
                   if line.startswith("rubricc_batches_total"))
    latencies.sort()
    with capsys.disabled():
        print(f"\nreward server load: {REQUESTS} requests from {CLIENTS} clients in {took:.1f} s, "
              f"{REQUESTS / took:.0f} requests/s, {batches:.0f} batches "
              f"(mean {REQUESTS / batches:.1f} rows), latency p50 "
              f"{latencies[len(latencies) // 2] * 1000:.1f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
