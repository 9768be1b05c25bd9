"""One judge plan per batch: the requests of every judge item go to the backend in one call.

The generated code asks the judge item by item, so a backend that packs all the criteria about one
response into one sequence would only ever see one item's criteria at a time. `run_planned` runs
the code twice instead:

1. with a judge that records what is asked and answers nothing (every verdict pending);
2. after one backend call for every distinct request recorded, with a judge that answers from
   those verdicts.

The second run shares the first's memo, so heavy and batched built-ins are computed once; gates
decide both runs alike, so gated rows still ask nothing. A request the first run could not see
(behind a gate that reads a judge's verdict) goes to the backend when the second run asks for it.
"""

from __future__ import annotations

from rubricc import values as V
from rubricc.judges import JudgeRequest
from rubricc.runtime.kernels import BatchRuntime
from rubricc.runtime.services import Services

PENDING = V.Failed(V.ERROR, "judge verdict pending")


class _Recording(Services):
    """Records every judge request and answers none; the pool, device and account are shared."""

    def __init__(self, real: Services):
        super().__init__(real.pool, real.judge_backend, real.device)
        self.account = real.account
        self.asked: dict[JudgeRequest, None] = {}

    def judge(self, requests: list[JudgeRequest]) -> list[object]:
        self.asked.update(dict.fromkeys(requests))
        return [PENDING] * len(requests)


class _Answering(Services):
    """Answers from the planned verdicts, asking the backend only for what the plan missed."""

    def __init__(self, real: Services, verdicts: dict[JudgeRequest, object]):
        super().__init__(real.pool, real.judge_backend, real.device)
        self.account = real.account
        self.real, self.verdicts = real, verdicts

    def judge(self, requests: list[JudgeRequest]) -> list[object]:
        missing = [r for r in dict.fromkeys(requests) if r not in self.verdicts]
        if missing:
            self.verdicts.update(zip(missing, self.real.judge(missing)))
        return [self.verdicts[r] for r in requests]


def run_planned(entry, checked, cols: dict[str, list], size: int, services: Services):
    """Run the generated `entry` on the batch with one judge call for all its judge items; return
    the rows and the built-in call counts."""
    recording = _Recording(services)
    first = BatchRuntime(checked, cols, size, recording)
    entry(first)
    asked = list(recording.asked)
    verdicts = dict(zip(asked, services.judge(asked))) if asked else {}
    second = BatchRuntime(checked, cols, size, _Answering(services, verdicts))
    second.memo = first.memo
    return entry(second), dict(first.calls)
