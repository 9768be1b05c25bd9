"""What evaluation needs from outside: the worker pool for heavy built-ins, and a judge.

It also keeps the account of what those cost: seconds in the pool and in the judge, and how many
judge requests were sent.
"""

from __future__ import annotations

import time
from collections import Counter

from rubricc.builtins import REGISTRY
from rubricc.judges import Judge, JudgeRequest, JudgeRequired
from rubricc.runtime import values as V
from rubricc.runtime.pool import WorkerPool, call_target


class Services:
    def __init__(self, pool: WorkerPool | None = None, judge: Judge | None = None):
        self.pool = pool
        self.judge_backend = judge
        self.account: Counter = Counter()

    def heavy_batch(self, fn: str, arg_list: list[tuple]) -> list[object]:
        """Run a heavy built-in over many argument tuples; a deadline overrun is a `timeout`."""
        if not arg_list:
            return []
        started = time.perf_counter()
        try:
            return self._heavy_batch(fn, arg_list)
        finally:
            self.account["heavy_s"] += time.perf_counter() - started
            self.account["heavy_calls"] += len(arg_list)

    def _heavy_batch(self, fn: str, arg_list: list[tuple]) -> list[object]:
        if self.pool is None:
            return [V.call(REGISTRY[fn].fn, args, fn) for args in arg_list]
        target = call_target(REGISTRY[fn].fn)
        outcomes = self.pool.run([(target, args) for args in arg_list])
        return [o.value if o.status == V.OK else V.Failed(o.status, f"{fn}: {o.message}")
                for o in outcomes]

    def heavy(self, fn: str, args: tuple) -> object:
        return self.heavy_batch(fn, [args])[0]

    def judge(self, requests: list[JudgeRequest]) -> list[object]:
        if self.judge_backend is None:
            raise JudgeRequired("this rubric has judge items: pass a judge backend "
                                "(judge= in the Python API, --judge on the command line)")
        started = time.perf_counter()
        try:
            return self.judge_backend.judge(requests)
        finally:
            self.account["judge_s"] += time.perf_counter() - started
            self.account["judge_requests"] += len(requests)
