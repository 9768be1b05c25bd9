"""Fuzz the back end: every mutated rubric that compiles also scores, and both engines agree.

The mutants come from the front-end fuzzer (tests/test_fuzz.py), seeded with the engine cases
as well, so they carry judges, gates, routes and aggregations. Whatever the rubric, scoring a
batch must return every row with a value or an explicit status, never raise, and match the
reference interpreter row for row.
"""

from __future__ import annotations

import random

from hypothesis import given, reject
from hypothesis import strategies as st

from rubricc.interpreter import interpret_batch
from rubricc.isolation.pool import WorkerPool
from rubricc.pipeline import build, front
from rubricc.runtime.services import Services
from rubricc.scorer import POOL_WARM_UP
from tests.conftest import as_tuple, fuzz, grpo_batch, mutants

POOL = WorkerPool(workers=2, deadline=5.0, warm_up=POOL_WARM_UP)


class AnyJudge:
    """A verdict for every criterion, fixed by its text, so both engines see the same ones."""

    def judge(self, requests):
        return [((len(r.criterion) + (r.group.index(r.response) if r.group else 0)) % 5) / 4
                for r in requests]


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
        for got, want in zip(batch.rows, interpret_batch(checked, rows, services)):
            assert got.total is not None or got.status in ("error", "timeout")
            assert as_tuple(got) == as_tuple(want)


@fuzz(150)
@given(mutants())
def test_mutated_rubrics_score_like_the_interpreter(text: str) -> None:
    scores_everything(text)


# ---- `judge each` frames and route keys, generated ----------------------------------------------
# The compiled engine computes criteria, weights and route keys in its own ops (a frame per `judge
# each`, a router's key column); these rubrics put every kind of expression there, failures
# included (a division by zero in a weight, a none field), behind a gate or not.

CRITERIA = [
    "c.text",
    'c.text + " / " + tail',
    'if c.weight > 1 then c.text else "fallback"',
    'c.text + (if words(response) > 2 then "!" else "?")',
    'lower(c.text) + (extract(response, /([0-9]+)/) ?? "-")',
    'if long == 1 then c.text else tail',
]
WEIGHTS = ["", "weight c.weight", "weight c.weight * 2", "weight 1 / (c.weight - 1)",
           "weight len(c.text)", "weight words(response)", "points c.weight"]
SOURCES = ["rubric", "rubric ?? []", '[{text: "x", weight: 2}, {text: tail, weight: 1}]',
           'if task == "math" then rubric else []']
KEYS = ["task", "lower(task)", 'if words(response) > 1 then task else "open"',
        'extract(response, /(math|open)/) ?? task']


@st.composite
def each_rubrics(draw) -> str:
    criterion, weight = draw(st.sampled_from(CRITERIA)), draw(st.sampled_from(WEIGHTS))
    source = draw(st.sampled_from(SOURCES))
    gate = draw(st.sampled_from(["", "    gate long: words(response) > 1 else -1\n"]))
    check = "    check long: words(response) > 1\n" if not gate else ""
    body = (f"    input rubric: list[{{text: text, weight: number}}]\n    input task: text\n"
            f"    let tail = lower(response)\n{gate}{check}"
            f"    judge each c in {source} {weight} as crit: {criterion}\n")
    key = draw(st.sampled_from(KEYS))
    return (f"rubric judged {{\n{body}}}\n\nrubric plain {{\n    check some: words(response) > 0\n}}\n\n"
            f"rubric router {{\n    input task: text\n    let k = {key}\n    route by k {{\n"
            f'        "math": judged\n        default: plain\n    }}\n}}\n')


@fuzz(40)
@given(each_rubrics())
def test_each_frames_and_route_keys_score_like_the_interpreter(text: str) -> None:
    result = front(text, "each.rubric")
    assert result.ok, [d.message for d in result.diagnostics]
    scores_everything(text)
