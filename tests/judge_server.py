"""The tests' OpenAI-compatible judge server, which can be told to fail: a test double.

    python -m tests.judge_server MODEL_PATH --port 0 --fail-rate 0.3

It is `rubricc.backends.serve` (a transformers model behind `/v1/chat/completions`, `/v1/models`
and `/health`; its options too) with faults and what a test reads back added:

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

import hashlib
import json
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields

from rubricc.backends import serve
from rubricc.backends.serve import Completion, LocalModel, RequestError

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


class Handler(serve.Handler):
    server: JudgeServer

    ROUTES = serve.Handler.ROUTES | {("GET", "/stats"): "stats", ("GET", "/control"): "get_control",
                                     ("POST", "/control"): "set_control"}

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

    # ---- the answer, as the faults allow ---------------------------------------------------------

    def answer(self, request: Completion, logprobs: bool = True) -> None:
        faults = self.server.faults
        if request.logprobs and faults.logprobs == "refuse":
            raise RequestError(400, "this server does not return logprobs", "logprobs")
        if faults.latency:
            time.sleep(faults.latency)
        super().answer(request, logprobs and faults.logprobs == "on")


class JudgeServer(serve.ModelServer):
    """`serve.ModelServer` with `faults` to inject and `stats` of what it received."""

    handler = Handler

    def __init__(self, address, model: LocalModel, served: str, faults: Faults,
                 max_top_logprobs: int = 20, verbose: bool = False):
        super().__init__(address, model, served, max_top_logprobs, verbose)
        self.faults = faults
        self.stats = Stats()


def main(argv: list[str] | None = None) -> None:
    parser = serve.argument_parser("python -m tests.judge_server", __doc__.split("\n")[0])
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
    serve.set_threads(args)
    faults = Faults()
    try:
        faults.update({"fail_rate": args.fail_rate, "seed": args.seed,
                       "modes": [m for m in args.modes.split(",") if m],
                       "fail_attempts": args.fail_attempts, "retry_after": args.retry_after,
                       "slow_s": args.slow_s, "latency": args.latency, "logprobs": args.logprobs})
    except ValueError as exc:
        parser.error(str(exc))
    serve.serve_forever(JudgeServer((args.host, args.port), LocalModel(args.model),
                                    serve.served_name(args), faults, args.max_top_logprobs,
                                    args.verbose))


if __name__ == "__main__":
    main()
