"""A small OpenAI-compatible server for a local judge model, which can be told to fail.

    python -m rubricc.backends.judge_server MODEL_PATH --port 8000
    rubricc score ... --judge openai:MODEL@http://127.0.0.1:8000/v1

It loads a transformers causal LM and its tokenizer from a folder and answers, on a
`ThreadingHTTPServer` (standard library only):

- `POST /v1/chat/completions`: the messages go through the tokenizer's chat template; the reply is
  the greedy continuation up to `max_tokens` (temperature is ignored: always greedy), with
  `logprobs.content[i].top_logprobs` in OpenAI's format when `logprobs` is asked, and `usage`.
  `top_logprobs` may go up to `--max-top-logprobs` (20 by default, as in vLLM; raise it to
  return the whole vocabulary of a small model). Forward passes run one at a time.
- `GET /v1/models`, `GET /health`.
- `GET /stats`: requests received, per prompt (`prompt_key(messages)`) with their arrival times,
  faults injected, requests that asked for logprobs, and requests in flight now and at most.
- `GET /control`, `POST /control` with a JSON object of `Faults` fields to change, and
  `"reset": true` to clear the stats.

Faults, for testing clients (`Faults` below; also `--fail-rate`, `--modes`, ... at start-up):

- `429`: rate limited, with a `Retry-After` header;
- `500`: an internal error;
- `slow`: sleep `slow_s` before answering, past a client's timeout;
- `malformed`: a 200 whose JSON body is cut short;
- `drop`: close the connection without a response.

Whether request k of a prompt fails, and how, is a function of (seed, prompt, k) alone
(`fault_for`), so a client's run is reproducible whatever order its requests arrive in, and a
test can predict every outcome. `logprobs` = "ignore" answers without logprobs, and "refuse"
answers 400 to a request that asks for them, as servers without logprobs do.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODES = ("429", "500", "slow", "malformed", "drop")
LOGPROBS_MODES = ("on", "ignore", "refuse")


@dataclass
class Faults:
    fail_rate: float = 0.0
    """The chance that a request (after the first `fail_attempts` of its prompt) fails."""
    modes: list[str] = field(default_factory=lambda: list(MODES))
    """The ways to fail, one chosen per failing request."""
    seed: int = 0
    fail_attempts: int = 0
    """The first this-many requests of every prompt fail: a client must retry to get an answer."""
    retry_after: float = 1.0
    """Seconds in the `Retry-After` header of a 429."""
    slow_s: float = 30.0
    """How long a `slow` request sleeps before it answers."""
    latency: float = 0.0
    """Seconds every answered request waits before its forward pass (to overlap requests)."""
    logprobs: str = "on"
    """"on", "ignore" (answer without them) or "refuse" (400 when they are asked for)."""

    def update(self, changes: dict) -> None:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}: expected some of {sorted(known)}")
        wanted = asdict(self) | changes
        if set(wanted["modes"]) - set(MODES) or wanted["logprobs"] not in LOGPROBS_MODES:
            raise ValueError(f"modes must be among {list(MODES)} and logprobs one of "
                             f"{list(LOGPROBS_MODES)}")
        for name, value in changes.items():
            setattr(self, name, value)


def prompt_key(messages: list[dict]) -> str:
    """The name a prompt goes by in `/stats`: a hash of its messages."""
    text = json.dumps(messages, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def fault_for(faults: Faults, key: str, attempt: int) -> str | None:
    """The fault injected into request number `attempt` (from 0) of the prompt `key`, or None.

    >>> fault_for(Faults(fail_attempts=1, modes=["500"]), "abc", 0), fault_for(Faults(), "abc", 0)
    ('500', None)
    """
    digest = hashlib.sha256(f"{faults.seed}:{key}:{attempt}".encode()).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    if not faults.modes or (attempt >= faults.fail_attempts and draw >= faults.fail_rate):
        return None
    return faults.modes[int.from_bytes(digest[8:12], "big") % len(faults.modes)]


class Stats:
    """What the server received; thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Forget what was received; requests still running stay in flight."""
        with self.lock:
            self.times: dict[str, list[float]] = defaultdict(list)
            self.faults: Counter = Counter()
            self.logprobs_asked = 0
            self.max_in_flight = self.in_flight

    def arrive(self, key: str, asks_logprobs: bool) -> int:
        """Count a request in; returns how many of this prompt came before it."""
        with self.lock:
            self.times[key].append(time.monotonic())
            self.logprobs_asked += asks_logprobs
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return len(self.times[key]) - 1

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def snapshot(self) -> dict:
        with self.lock:
            return {"requests": sum(map(len, self.times.values())),
                    "by_prompt": {k: len(v) for k, v in self.times.items()},
                    "times": dict(self.times), "faults": dict(self.faults),
                    "logprobs_asked": self.logprobs_asked, "in_flight": self.in_flight,
                    "max_in_flight": self.max_in_flight}


class RequestError(Exception):
    """A request the server answers with an OpenAI-style error body."""

    def __init__(self, status: int, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param = status, message, param

    def body(self) -> dict:
        kind = "not_found_error" if self.status == 404 else "invalid_request_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param,
                          "code": self.status}}


class LocalModel:
    """A causal LM and its tokenizer: greedy tokens and their log-probabilities, one at a time."""

    def __init__(self, path: str):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path).eval()
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None)
        self.texts = self.tokenizer.batch_decode([[i] for i in range(len(self.tokenizer))])
        self.lock = threading.Lock()

    def encode(self, messages: list[dict]) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return tok(text, add_special_tokens=False).input_ids
        return tok("\n".join(m["content"] for m in messages)).input_ids

    def greedy(self, ids: list[int], max_tokens: int) -> list[tuple[int, object]]:
        """(token, log-probabilities over the vocabulary) for each greedy step, EOS included."""
        import torch

        if self.max_positions is not None and len(ids) + max_tokens > self.max_positions:
            raise RequestError(400, f"the prompt is {len(ids)} tokens and max_tokens "
                                    f"{max_tokens}: more than the model's {self.max_positions}")
        steps = []
        with self.lock, torch.inference_mode():
            out = self.model(input_ids=torch.tensor([ids]), use_cache=True)
            for _ in range(max_tokens):
                logprobs = torch.log_softmax(out.logits[0, -1].float(), dim=-1)  # [vocab]
                token = int(logprobs.argmax())
                steps.append((token, logprobs))
                if token == self.tokenizer.eos_token_id:
                    break
                out = self.model(input_ids=torch.tensor([[token]]),
                                 past_key_values=out.past_key_values, use_cache=True)
        return steps

    def token_entry(self, token: int, logprob: float) -> dict:
        text = self.texts[token] if token < len(self.texts) else ""
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

    def logprobs_content(self, steps, top: int) -> list[dict]:
        import torch

        content = []
        for token, logprobs in steps:
            values, ids = torch.topk(logprobs, min(top, logprobs.numel()))
            entry = self.token_entry(token, float(logprobs[token]))
            entry["top_logprobs"] = [self.token_entry(int(i), float(v))
                                     for v, i in zip(values, ids)]
            content.append(entry)
        return content


@dataclass
class Completion:
    """What a chat request asks for, read and checked."""

    messages: list[dict]
    max_tokens: int
    logprobs: bool
    top_logprobs: int

    @classmethod
    def read(cls, body: object, served: str, max_top: int) -> Completion:
        if not isinstance(body, dict):
            raise RequestError(400, "the body must be a JSON object")
        if body.get("model") != served:
            raise RequestError(404, f"The model `{body.get('model')}` does not exist; this "
                                    f"server has `{served}`", "model")
        messages = body.get("messages")
        if not (isinstance(messages, list) and messages and all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)):
            raise RequestError(400, "messages must be a non-empty list of {role, content: "
                                    "string}", "messages")
        if body.get("stream") or body.get("n", 1) != 1:
            raise RequestError(400, "this server answers n=1 without streaming")
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 16
        top = body.get("top_logprobs") or 0
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise RequestError(400, "max_tokens must be a positive integer", "max_tokens")
        if not isinstance(top, int) or not 0 <= top <= max_top:
            raise RequestError(400, f"top_logprobs must be an integer from 0 to {max_top}",
                               "top_logprobs")
        return cls(messages, max_tokens, bool(body.get("logprobs")), top)


class JudgeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 refuses a client's burst of concurrent connections

    def __init__(self, address, model: LocalModel, served: str, faults: Faults,
                 max_top_logprobs: int = 20, verbose: bool = False):
        super().__init__(address, Handler)
        self.model, self.served, self.faults = model, served, faults
        self.max_top_logprobs = max_top_logprobs
        self.verbose = verbose
        self.stats = Stats()

    def handle_error(self, request, client_address) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with connection pools expect
    server: JudgeServer

    ROUTES = {("GET", "/v1/models"): "models", ("GET", "/health"): "health",
              ("GET", "/stats"): "stats", ("GET", "/control"): "get_control",
              ("POST", "/control"): "set_control",
              ("POST", "/v1/chat/completions"): "chat_completions"}

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def route(self, method: str) -> None:
        name = self.ROUTES.get((method, self.path.split("?")[0].rstrip("/")))
        try:
            if name is None:
                raise RequestError(404, f"no route {method} {self.path}")
            getattr(self, f"on_{name}")()
        except RequestError as exc:
            self.send_json(exc.status, exc.body())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left (a timeout): nobody to answer
        except Exception as exc:  # a bug or a model error: say so rather than drop the client
            self.send_json(500, {"error": {"message": f"{type(exc).__name__}: {exc}",
                                           "type": "server_error"}})

    def log_message(self, format, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def read_json(self) -> object:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw or b"null")
        except ValueError:
            raise RequestError(400, "the body is not valid JSON") from None

    def send_json(self, status: int, body: object, headers: dict | None = None) -> None:
        self.send_bytes(status, json.dumps(body).encode("utf-8"), headers)

    def send_bytes(self, status: int, data: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    # ---- endpoints -----------------------------------------------------------------------------

    def on_health(self) -> None:
        self.send_json(200, {"status": "ok"})

    def on_models(self) -> None:
        self.send_json(200, {"object": "list", "data": [
            {"id": self.server.served, "object": "model", "owned_by": "rubricc"}]})

    def on_stats(self) -> None:
        self.send_json(200, self.server.stats.snapshot())

    def on_get_control(self) -> None:
        self.send_json(200, asdict(self.server.faults))

    def on_set_control(self) -> None:
        changes = self.read_json()
        if not isinstance(changes, dict):
            raise RequestError(400, "send a JSON object of fault settings")
        if changes.pop("reset", False):
            self.server.stats.reset()
        try:
            self.server.faults.update(changes)
        except ValueError as exc:
            raise RequestError(400, str(exc)) from None
        self.on_get_control()

    def on_chat_completions(self) -> None:
        server = self.server
        request = Completion.read(self.read_json(), server.served, server.max_top_logprobs)
        key = prompt_key(request.messages)
        attempt = server.stats.arrive(key, request.logprobs)
        try:
            fault = fault_for(server.faults, key, attempt)
            if fault is not None:
                with server.stats.lock:
                    server.stats.faults[fault] += 1
                getattr(self, f"fault_{fault}")()
                if fault != "slow":
                    return
            self.answer(request)
        finally:
            server.stats.leave()

    # ---- faults: each either answers, or (slow) delays the answer ---------------------------

    def fault_429(self) -> None:
        after = self.server.faults.retry_after
        self.send_json(429, {"error": {"message": "rate limited (injected)", "type": "requests",
                                       "code": "rate_limit_exceeded"}},
                       {"Retry-After": f"{after:g}"})

    def fault_500(self) -> None:
        self.send_json(500, {"error": {"message": "internal error (injected)",
                                       "type": "server_error"}})

    def fault_slow(self) -> None:
        time.sleep(self.server.faults.slow_s)

    def fault_malformed(self) -> None:
        self.send_bytes(200, b'{"id": "chatcmpl-malformed", "object": "chat.completion", "cho')

    def fault_drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    # ---- the answer ------------------------------------------------------------------------------

    def answer(self, request: Completion) -> None:
        server, model = self.server, self.server.model
        if request.logprobs and server.faults.logprobs == "refuse":
            raise RequestError(400, "this server does not return logprobs", "logprobs")
        if server.faults.latency:
            time.sleep(server.faults.latency)
        ids = model.encode(request.messages)
        steps = model.greedy(ids, request.max_tokens)
        tokens = [t for t, _ in steps]
        finished = tokens[-1] == model.tokenizer.eos_token_id
        logprobs = None
        if request.logprobs and server.faults.logprobs == "on":
            logprobs = {"content": model.logprobs_content(steps, request.top_logprobs)}
        choice = {"index": 0, "finish_reason": "stop" if finished else "length",
                  "message": {"role": "assistant",
                              "content": model.tokenizer.decode(tokens, skip_special_tokens=True)},
                  "logprobs": logprobs}
        self.send_json(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": server.served, "choices": [choice],
            "usage": {"prompt_tokens": len(ids), "completion_tokens": len(tokens),
                      "total_tokens": len(ids) + len(tokens)}})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rubricc.backends.judge_server",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a folder with a transformers causal LM and its tokenizer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--served-model-name", help="the model's name in requests "
                                                    "(default: the folder's name)")
    parser.add_argument("--max-top-logprobs", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    defaults = Faults()
    parser.add_argument("--fail-rate", type=float, default=defaults.fail_rate)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated fault modes")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--fail-attempts", type=int, default=defaults.fail_attempts)
    parser.add_argument("--retry-after", type=float, default=defaults.retry_after)
    parser.add_argument("--slow-s", type=float, default=defaults.slow_s)
    parser.add_argument("--latency", type=float, default=defaults.latency)
    parser.add_argument("--logprobs", choices=LOGPROBS_MODES, default=defaults.logprobs)
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    faults = Faults()
    try:
        faults.update({"fail_rate": args.fail_rate, "seed": args.seed,
                       "modes": [m for m in args.modes.split(",") if m],
                       "fail_attempts": args.fail_attempts, "retry_after": args.retry_after,
                       "slow_s": args.slow_s, "latency": args.latency, "logprobs": args.logprobs})
    except ValueError as exc:
        parser.error(str(exc))
    served = args.served_model_name or Path(args.model).resolve().name
    server = JudgeServer((args.host, args.port), LocalModel(args.model), served, faults,
                         args.max_top_logprobs, args.verbose)
    host, port = server.server_address[:2]
    print(f"serving {served} at http://{host}:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
