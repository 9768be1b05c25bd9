"""What evaluation needs from outside: the worker pool for heavy built-ins, a judge, and the
device that batched built-ins (models) run on.

It also keeps the account of what those cost: seconds in the pool, in batched built-ins and in the
judge, and how many judge requests were sent.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter

from rubricc import values as V
from rubricc.builtins import REGISTRY
from rubricc.isolation.pool import WorkerPool, call_target
from rubricc.judges import Judge, JudgeRequest, JudgeRequired, judge_rendered


class Services:
    def __init__(self, pool: WorkerPool | None = None, judge: Judge | None = None, device=None):
        self.pool = pool
        self.judge_backend = judge
        self.device = device  # the scorer's device=, where batched built-ins compute
        self.account: Counter = Counter()

    def heavy_batch(self, fn: str, arg_list: list[tuple]) -> list[object]:
        """Run a heavy built-in over many argument tuples; a deadline overrun is a `timeout`."""
        if not arg_list:
            return []
        with self.timed("heavy", len(arg_list)):
            return self._heavy_batch(fn, arg_list)

    def _heavy_batch(self, fn: str, arg_list: list[tuple]) -> list[object]:
        """In the pool, but for the calls the built-in's `inline` says are cheap: those run here
        (`inline` must not raise: it sees the arguments before the built-in's own checks)."""
        impl = REGISTRY[fn]
        here = [self.pool is None or (impl.inline is not None and impl.inline(*args))
                for args in arg_list]
        results = [V.call(impl.fn, args, fn) if h else None for args, h in zip(arg_list, here)]
        away = sorted((i for i, h in enumerate(here) if not h), key=lambda i: -_text_size(arg_list[i]))
        if away:
            target = call_target(impl.fn)
            outcomes = self.pool.run([(target, arg_list[i]) for i in away])
            for i, o in zip(away, outcomes):
                results[i] = o.value if o.status == V.OK else V.Failed(o.status, f"{fn}: {o.message}")
        return results

    def heavy(self, fn: str, args: tuple) -> object:
        return self.heavy_batch(fn, [args])[0]

    def batched(self, fn: str, arg_list: list[tuple]) -> list[object]:
        """Call a batched built-in once, on the columns of many argument tuples, on the device."""
        if not arg_list:
            return []
        with self.timed("batched", len(arg_list)):
            return self._batched(fn, arg_list)

    def _batched(self, fn: str, arg_list: list[tuple]) -> list[object]:
        """If the one call raises, one call per tuple: a bad row fails alone, as in the interpreter."""
        impl = REGISTRY[fn].fn

        def columns(rows: list[tuple]) -> list[object]:
            return list(impl(*map(list, zip(*rows)), device=self.device))

        if len(arg_list) > 1:
            try:
                return columns(arg_list)
            except Exception:  # noqa: BLE001 - retried below, call by call
                pass
        return [V.call(lambda *args: columns([args])[0], args, fn) for args in arg_list]

    def judge(self, requests: list[JudgeRequest]) -> list[object]:
        if self.judge_backend is None:
            raise JudgeRequired("this rubric has judge items: pass a judge backend "
                                "(judge= in the Python API, --judge on the command line)")
        before = _backend_account(self.judge_backend)
        try:
            with self.timed("judge"):
                return judge_rendered(self.judge_backend, requests)
        finally:
            self.account["judge_requests"] += len(requests)
            # what the backend counts itself: cache hits, calls sent, retries, tokens, failures
            for key, value in (_backend_account(self.judge_backend) - before).items():
                self.account[f"judge_{key}"] += value

    @contextlib.contextmanager
    def timed(self, what: str, calls: int | None = None):
        """Adds the block's seconds to `{what}_s` (and `calls` to `{what}_calls`), even when it
        raises: the one timing helper of the account."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.account[f"{what}_s"] += time.perf_counter() - started
            if calls is not None:
                self.account[f"{what}_calls"] += calls


def _backend_account(judge: Judge) -> Counter:
    """A judge's own cumulative counts (`judge.account`, and its inner judge's when it wraps one)."""
    total: Counter = Counter()
    while judge is not None:
        total.update({k: v for k, v in getattr(judge, "account", {}).items()
                      if isinstance(v, int | float)})
        judge = getattr(judge, "inner", None)
    return total


def _text_size(args: tuple) -> int:
    """The characters of a call's text arguments: the cheap guess at how long it runs. The pool
    takes a batch's calls longest first, so that no worker is left alone with a slow call at
    the end while the others idle (longest-processing-time-first scheduling)."""
    return sum(len(arg) for arg in args if isinstance(arg, str))
