"""Serve a local transformers model behind an OpenAI-compatible endpoint, for the `openai` judge.

    python -m rubricc.backends.serve MODEL_PATH --port 8000
    rubricc score ... --judge openai:MODEL@http://127.0.0.1:8000/v1

For a judge on a machine without vLLM (which needs a GPU) or a network: a small model on a CPU,
in a process of its own. It loads a transformers causal LM and its tokenizer from a folder and
answers, on a `ThreadingHTTPServer` (standard library only):

- `POST /v1/chat/completions`: the messages go through the tokenizer's chat template; the reply is
  the greedy continuation up to `max_tokens` (temperature is ignored: always greedy), with
  `logprobs.content[i].top_logprobs` in OpenAI's format when `logprobs` is asked, and `usage`.
  `top_logprobs` may go up to `--max-top-logprobs` (20 by default, as in vLLM; raise it to
  return the whole vocabulary of a small model). Forward passes run one at a time.
- `GET /v1/models`, `GET /health`.

Requests the server cannot answer get OpenAI's error body: 404 for another model's name, 400 for
streaming, `n` > 1, or a prompt and `max_tokens` longer than the model's context. The tests'
server that fails on demand (`tests/judge_server.py`) is this one with faults added.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


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


class Handler(BaseHTTPRequestHandler):
    """The endpoints; a subclass adds routes to `ROUTES` and `on_NAME` methods for them."""

    protocol_version = "HTTP/1.1"  # keep-alive, as clients with connection pools expect
    server: ModelServer

    ROUTES = {("GET", "/v1/models"): "models", ("GET", "/health"): "health",
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

    def on_chat_completions(self) -> None:
        server = self.server
        self.answer(Completion.read(self.read_json(), server.served, server.max_top_logprobs))

    def answer(self, request: Completion, logprobs: bool = True) -> None:
        """The greedy reply; with its logprobs when the request asks for them and `logprobs`."""
        server, model = self.server, self.server.model
        ids = model.encode(request.messages)
        steps = model.greedy(ids, request.max_tokens)
        tokens = [t for t, _ in steps]
        finished = tokens[-1] == model.tokenizer.eos_token_id
        content = None
        if request.logprobs and logprobs:
            content = {"content": model.logprobs_content(steps, request.top_logprobs)}
        choice = {"index": 0, "finish_reason": "stop" if finished else "length",
                  "message": {"role": "assistant",
                              "content": model.tokenizer.decode(tokens, skip_special_tokens=True)},
                  "logprobs": content}
        self.send_json(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": server.served, "choices": [choice],
            "usage": {"prompt_tokens": len(ids), "completion_tokens": len(tokens),
                      "total_tokens": len(ids) + len(tokens)}})


class ModelServer(ThreadingHTTPServer):
    """One model under one name; requests are answered by `handler`."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 refuses a client's burst of concurrent connections
    handler: type[Handler] = Handler

    def __init__(self, address, model: LocalModel, served: str, max_top_logprobs: int = 20,
                 verbose: bool = False):
        super().__init__(address, self.handler)
        self.model, self.served = model, served
        self.max_top_logprobs = max_top_logprobs
        self.verbose = verbose

    def handle_error(self, request, client_address) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


def argument_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The command line of a server: the model, where to listen, and how."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("model", help="a folder with a transformers causal LM and its tokenizer")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument("--served-model-name", help="the model's name in requests "
                                                    "(default: the folder's name)")
    parser.add_argument("--max-top-logprobs", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def set_threads(args: argparse.Namespace) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def served_name(args: argparse.Namespace) -> str:
    return args.served_model_name or Path(args.model).resolve().name


def serve_forever(server: ModelServer) -> None:
    """Say where (the line a parent process waits for), then answer until interrupted."""
    host, port = server.server_address[:2]
    print(f"serving {server.served} at http://{host}:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("python -m rubricc.backends.serve", __doc__.split("\n")[0])
    args = parser.parse_args(argv)
    set_threads(args)
    serve_forever(ModelServer((args.host, args.port), LocalModel(args.model), served_name(args),
                              args.max_top_logprobs, args.verbose))


if __name__ == "__main__":
    main()
