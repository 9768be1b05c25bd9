"""The judge behind any OpenAI-compatible chat endpoint: OpenAI, vLLM `serve`, SGLang, llama.cpp,
Ollama, or `python -m rubricc.backends.serve` (a local transformers model).

    judge = OpenAIJudge("qwen2.5-7b", "http://localhost:8000/v1", concurrency=32, rpm=600)
    scorer.score_rows(rows, judge=judge)
    judge.account   # calls, retries, fallbacks, failures, timeouts, rate_limited, tokens

Each distinct request is one chat call, its rendered prompt the user message, `temperature=0`.

- Order. Servers cache prompt prefixes (vLLM's automatic prefix caching, SGLang's radix cache,
  hosted APIs' prompt caching): a request whose leading tokens are byte-identical to a recent
  one's reuses their KV instead of computing it again. So the whole prompt is one user turn (no
  system message, nothing that varies ahead of the template's text), and a batch is sent sorted
  by rendered prompt: the prompts sharing any prefix are then one contiguous run, whatever the
  template. With the default template, which puts the criterion last, that makes a GRPO group
  (one question) a run and, inside it, the criteria about one response a run. Sent all at once,
  those criteria would all be prefilled side by side before any of them is cached, so the first
  request about a response (same prompt, response and template) goes alone, and the others
  follow as soon as its first call has ended; at most `concurrency` responses are opened at a
  time, so that their criteria go out right after the first one, not behind every other
  response's first request. A first call that times out holds its response's other criteria
  back that long, once. Verdicts come back in the caller's order.

- Verdicts. With logprobs (`logprobs=True`): `max_tokens=1`, and the verdict comes from the first
  token's `top_logprobs` (`verdicts.from_logprobs`). Answer tokens missing from a truncated list
  count as zero probability, so with only one of yes/no listed the verdict is 0 or 1, and with
  neither it is an error: ask for more `top_logprobs` where the server allows. Without logprobs
  (`logprobs=False`, or a reply that has none) the reply of at most `answer_tokens` tokens is read
  strictly (`verdicts.from_text`). `logprobs="auto"` asks for both in one call; the first reply
  with logprobs, or without them, or a 400/422 to a request for them (which is then resent
  without), settles the mode for the judge's lifetime.
- Limits. At most `concurrency` calls in flight; `rpm` and `tpm` are token buckets holding one
  second's budget. The tokens of a call are estimated from its length before it is sent and
  corrected from the reply's `usage`.
- Failures. A 429, 408, 409, 5xx, timeout or dropped connection is retried up to `max_retries`
  times, after `Retry-After` when the server sends one (a 429's also pauses every other call), or
  else after an exponential backoff with jitter. Other 4xx are not retried, nor is a reply that
  cannot be parsed: the server answered, and the same request would get the same answer. What
  still fails is a `Failed` value for that request alone: `timeout` when its last call timed
  out, else `error`.

`judge()` is synchronous and safe to call from any thread, including one running an event loop:
the calls run on a private event loop in a daemon thread, which `close()` stops. The openai
client's own retries are off (`max_retries=0`) so that every retry is counted and bounded here.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal

import openai

from rubricc.backends import verdicts
from rubricc.judges import JudgeRequest, rendered
from rubricc.values import ERROR, TIMEOUT, Failed

LOGPROBS, TEXT, AUTO = "logprobs", "text", "auto"
RETRIED_STATUS = (408, 409, 429)
"""Retried, with every 5xx: the request may succeed if sent again."""
MAX_RETRY_AFTER = 60.0
CHARS_PER_TOKEN = 4
ACCOUNT_KEYS = ("calls", "retries", "fallbacks", "failures", "timeouts", "rate_limited",
                "prompt_tokens", "completion_tokens")


@dataclass(frozen=True)
class Retry:
    """A failed call that may succeed if sent again, after `after` seconds when the server said."""

    failure: Failed
    after: float | None = None


@dataclass(frozen=True)
class Refused:
    """A 400/422 to a call that asked for logprobs while the mode is still being found out."""

    failure: Failed


class Budget:
    """A token bucket: `per_minute` units a minute, at most one second's worth (or 1) saved up.

    A take larger than that waits for a full bucket and leaves it in debt, which later takes
    wait out; `give` returns units (or, negative, charges more) once the real cost is known.
    """

    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0
        self.capacity = max(self.rate, 1.0)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, amount: float) -> None:
        while True:
            self.refill()
            need = min(amount, self.capacity)
            if self.level >= need:
                self.level -= amount
                return
            await asyncio.sleep((need - self.level) / self.rate)

    def give(self, amount: float) -> None:
        self.refill()
        self.level = min(self.capacity, self.level + amount)


class OpenAIJudge:
    """A judge model behind an OpenAI-compatible `/v1/chat/completions`.

    model: the model name the server knows. base_url: e.g. "http://localhost:8000/v1"; None is
        OpenAI's. api_key: default `OPENAI_API_KEY`, else "EMPTY" (local servers ignore it).
    concurrency: calls in flight at most. rpm, tpm: requests and tokens per minute at most.
    max_retries: retries of one request. timeout: seconds one call may take.
    logprobs: True, False or "auto" (see the module docstring). top_logprobs: how many to ask for.
    answer_tokens: max_tokens of a call read as text.
    backoff, max_backoff: the first retry waits about `backoff` seconds, doubling up to
        `max_backoff`, when the server gives no Retry-After.
    """

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 16, rpm: float | None = None, tpm: float | None = None,
                 max_retries: int = 4, timeout: float = 30.0,
                 logprobs: bool | Literal["auto"] = "auto", top_logprobs: int = 20,
                 answer_tokens: int = 3, backoff: float = 0.5, max_backoff: float = 8.0):
        if logprobs not in (True, False, AUTO):
            raise ValueError(f"logprobs must be True, False or 'auto', not {logprobs!r}")
        if any(limit is not None and limit <= 0 for limit in (rpm, tpm)) or concurrency < 1:
            raise ValueError("concurrency, rpm and tpm must be positive")
        self.model, self.base_url = model, base_url
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.concurrency, self.rpm, self.tpm = concurrency, rpm, tpm
        self.max_retries, self.timeout = max_retries, timeout
        self.top_logprobs, self.answer_tokens = top_logprobs, answer_tokens
        self.backoff, self.max_backoff = backoff, max_backoff
        self.mode = {True: LOGPROBS, False: TEXT, AUTO: AUTO}[logprobs]
        """"logprobs" or "text"; "auto" until a reply settles it."""
        self.account: Counter = Counter(dict.fromkeys(ACCOUNT_KEYS, 0))
        """Cumulative counts: HTTP calls, retries, text resends after a refusal of logprobs,
        requests that failed (and timed out), 429s, and tokens from `usage`."""
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: openai.AsyncOpenAI | None = None
        self._slots: asyncio.Semaphore | None = None
        self._budgets: dict[str, Budget | None] = {}
        self._random = random.Random()
        self._paused_until = 0.0  # a 429's Retry-After holds every call until then

    # ---- the Judge protocol ----------------------------------------------------------------------

    def judge(self, requests: list[JudgeRequest]) -> list[float | Failed]:
        asked = [(rendered(r), r.scale) for r in requests]
        about = {}  # each distinct (prompt, scale) -> the response it is about
        for request, ask in zip(requests, asked):
            if isinstance(ask[0], str):
                about.setdefault(ask, (request.template, request.prompt, request.response))
        unique = sorted(about, key=lambda ask: ask[0])  # shared prefixes next to each other
        runs: dict[tuple, list[int]] = defaultdict(list)
        for i, ask in enumerate(unique):
            runs[about[ask]].append(i)
        answers = (dict(zip(unique, self._run(self._judge_all(unique, list(runs.values())))))
                   if unique else {})
        return [prompt if isinstance(prompt, Failed) else answers[(prompt, scale)]
                for prompt, scale in asked]

    def close(self) -> None:
        """Close the HTTP client and stop the private event loop."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.close(), loop).result()
            self._client = None
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join()
        loop.close()

    def __enter__(self) -> OpenAIJudge:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def count(self, **amounts: int) -> None:
        with self._lock:
            self.account.update(amounts)

    # ---- the private event loop ------------------------------------------------------------------

    def _run(self, coroutine):
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                                name="rubricc-openai-judge")
                self._thread.start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    async def _judge_all(self, asked: list[tuple[str, int | None]],
                         runs: list[list[int]]) -> list[float | Failed]:
        """The verdicts of `asked`, in its order; `runs` are the indices of the requests about
        one response, in order: each run's first call ends before its others are sent.

        `concurrency` openers take runs in turn. The tasks an opener starts reach the slots
        (`asyncio.Semaphore`, first come first served) before its next run's first call does,
        so the calls go out in `asked`'s order except where a run waits for its first call."""
        if self._client is None:  # made on the loop that uses it
            self._client = openai.AsyncOpenAI(api_key=self.api_key, base_url=self.base_url,
                                              max_retries=0, timeout=self.timeout)
            self._slots = asyncio.Semaphore(self.concurrency)
            self._budgets = {"rpm": Budget(self.rpm) if self.rpm else None,
                             "tpm": Budget(self.tpm) if self.tpm else None}
        tasks: dict[int, asyncio.Task] = {}
        pending = iter(runs)

        async def opener() -> None:
            for first, *rest in pending:
                call = asyncio.create_task(self._call(*asked[first], self.mode))
                tasks[first] = asyncio.create_task(self._one(*asked[first], call))
                await asyncio.wait([call])  # its prefix is in the server's cache now
                for i in rest:
                    tasks[i] = asyncio.create_task(self._one(*asked[i]))

        await asyncio.gather(*(opener() for _ in range(min(self.concurrency, len(runs)))))
        return await asyncio.gather(*(tasks[i] for i in range(len(asked))))

    # ---- one request: calls until an answer, a final failure, or no retries left -----------------

    async def _one(self, prompt: str, scale: int | None,
                   first: asyncio.Task | None = None) -> float | Failed:
        """`first`: the request's first call, already started (the first of a run)."""
        mode, retries = self.mode, 0
        while True:
            outcome = await (first if first is not None else self._call(prompt, scale, mode))
            first = None
            if isinstance(outcome, Refused) and self.mode == AUTO:
                mode = TEXT  # perhaps the server refuses logprobs: ask again without them
                self.count(fallbacks=1)
                continue
            if isinstance(outcome, Retry) and retries < self.max_retries:
                retries += 1
                self.count(retries=1)
                await asyncio.sleep(self._delay(retries, outcome.after))
                mode = self.mode if mode == AUTO else mode
                continue
            return self._settle(outcome, retries + 1)

    def _settle(self, outcome, attempts: int) -> float | Failed:
        if isinstance(outcome, Retry | Refused):
            failure = outcome.failure
            if isinstance(outcome, Retry):
                calls = f"{attempts} attempt" + ("s" if attempts > 1 else "")
                failure = Failed(failure.status, f"{failure.message} ({calls})")
            outcome = failure
        if isinstance(outcome, Failed):
            self.count(failures=1, timeouts=int(outcome.status == TIMEOUT))
        return outcome

    def _delay(self, retry: int, after: float | None) -> float:
        if after is not None:
            return after
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return ceiling * self._random.uniform(0.5, 1.0)

    async def _call(self, prompt: str, scale: int | None, mode: str):
        params = self._params(mode)
        estimate = len(prompt) / CHARS_PER_TOKEN + params["max_tokens"]
        async with self._slots:
            await self._wait_for_pause()
            if self._budgets["rpm"]:
                await self._budgets["rpm"].take(1)
            if self._budgets["tpm"]:
                await self._budgets["tpm"].take(estimate)
            self.count(calls=1)
            try:
                reply = await self._client.chat.completions.create(
                    model=self.model, messages=[{"role": "user", "content": prompt}],
                    temperature=0, **params)
            except Exception as exc:  # every way a call fails is data for this request only
                return self._failure(exc, mode)
        try:
            self._charge(reply, estimate)
            return self._read(reply, scale)
        except Exception as exc:  # a reply of an unexpected shape
            return Failed(ERROR, f"the server's reply cannot be read: {type(exc).__name__}: {exc}")

    def _params(self, mode: str) -> dict:
        if mode == TEXT:
            return {"max_tokens": self.answer_tokens}
        # auto asks for a short text too, so that a server that drops logprobs still answers
        return {"max_tokens": 1 if mode == LOGPROBS else self.answer_tokens,
                "logprobs": True, "top_logprobs": self.top_logprobs}

    async def _wait_for_pause(self) -> None:
        while (wait := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    def _failure(self, exc: Exception, mode: str) -> Retry | Refused | Failed:
        if isinstance(exc, openai.APITimeoutError):
            return Retry(Failed(TIMEOUT, f"no answer within {self.timeout:g} s"))
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return Retry(Failed(ERROR, f"connection failed: {type(cause).__name__}: {cause}"))
        if isinstance(exc, openai.APIStatusError):
            return self._status_failure(exc, mode)
        return Failed(ERROR, f"the server's reply cannot be read: {type(exc).__name__}: {exc}")

    def _status_failure(self, exc: openai.APIStatusError, mode: str) -> Retry | Refused | Failed:
        code = exc.status_code
        failure = Failed(ERROR, f"HTTP {code}: {str(exc.message)[:200]}")
        if code in RETRIED_STATUS or code >= 500:
            after = retry_after(exc.response.headers)
            if code == 429:
                self.count(rate_limited=1)
                if after is not None:
                    self._paused_until = max(self._paused_until, time.monotonic() + after)
            return Retry(failure, after)
        if mode == AUTO and code in (400, 422):
            return Refused(failure)
        return failure

    # ---- a reply -------------------------------------------------------------------------------

    def _charge(self, reply, estimate: float) -> None:
        usage = getattr(reply, "usage", None)
        if usage is None:
            return
        prompt_tokens, completion_tokens = usage.prompt_tokens or 0, usage.completion_tokens or 0
        self.count(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        if self._budgets["tpm"]:
            self._budgets["tpm"].give(estimate - prompt_tokens - completion_tokens)

    def _read(self, reply, scale: int | None) -> float | Failed:
        choices = getattr(reply, "choices", None)
        if not choices:
            return Failed(ERROR, f"the server's reply has no choices: {str(reply)[:120]!r}")
        choice = choices[0]
        first = choice.logprobs.content[0] if choice.logprobs and choice.logprobs.content else None
        if self.mode == AUTO:
            self.mode = LOGPROBS if first is not None else TEXT
        if first is None:
            return verdicts.from_text(choice.message.content or "", scale)
        pairs = [(t.token, t.logprob) for t in first.top_logprobs or ()]
        if (first.token, first.logprob) not in pairs:  # the chosen token is evidence too
            pairs.append((first.token, first.logprob))
        return verdicts.from_logprobs(pairs, scale)


def retry_after(headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date), capped.

    >>> retry_after({"retry-after": "2"}), retry_after({"retry-after-ms": "250"}), retry_after({})
    (2.0, 0.25, None)
    """
    try:
        if "retry-after-ms" in headers:
            seconds = float(headers["retry-after-ms"]) / 1000
        elif "retry-after" in headers:
            seconds = _seconds(headers["retry-after"])
        else:
            return None
    except (TypeError, ValueError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return email.utils.parsedate_to_datetime(value).timestamp() - time.time()

