"""Fuzz the back end: every mutated rubric that compiles also scores, and both engines agree.

The mutants come from the front-end fuzzer (tests/test_fuzz.py), seeded with the engine cases
as well, so they carry judges, gates, routes and aggregations. Whatever the rubric, scoring a
batch must return every row with a value or an explicit status, never raise, and match the
reference interpreter row for row.
"""

from __future__ import annotations

import random

from hypothesis import given, reject

from rubricc.interpreter import interpret_row
from rubricc.pipeline import build, front
from rubricc.runtime.pool import WorkerPool
from rubricc.runtime.services import Services
from rubricc.scorer import POOL_WARM_UP
from tests.test_engines import as_tuple, grpo_batch
from tests.test_fuzz import fuzz, mutants

POOL = WorkerPool(workers=2, deadline=5.0, warm_up=POOL_WARM_UP)


class AnyJudge:
    """A verdict for every criterion, fixed by its text, so both engines see the same ones."""

    def judge(self, requests):
        return [(len(r.criterion) % 5) / 4 for r in requests]


def scores_everything(text: str) -> None:
    result = front(text, "fuzz.rubric")
    if not result.ok or not result.rubrics:
        reject()
    rows = grpo_batch(random.Random(len(text)), {}, size=16)
    services = Services(POOL, AnyJudge())
    for checked in result.rubrics:
        scorer = build(checked)
        scorer.pool = POOL
        batch = scorer.score_rows(rows, judge=AnyJudge())
        assert len(batch.rows) == len(rows)
        for row, got in zip(rows, batch.rows):
            assert got.total is not None or got.status in ("error", "timeout")
            assert as_tuple(got) == as_tuple(interpret_row(checked, row, services))


@fuzz(150)
@given(mutants())
def test_mutated_rubrics_score_like_the_interpreter(text: str) -> None:
    scores_everything(text)
