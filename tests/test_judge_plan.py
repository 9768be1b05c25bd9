"""One judge plan per batch: every judge item's requests reach the backend in one call, gated rows
ask nothing, and the verdicts, values and built-in counts are those of asking item by item."""

from __future__ import annotations

import rubricc
from rubricc.runtime.kernels import BatchRuntime

RUBRIC = """
rubric planned {
    input answer: text
    gate answered: words(response) > 0
    check correct: math_equal(final_answer(response), answer)
    judge clear: "The explanation is clear."
    judge kind: "The tone is kind."
    judge brief scale 5: "The response is brief."
    score = mean(correct, clear, kind, brief)
}
"""


class Recorder:
    """A deterministic judge that remembers each call: P(yes) from the lengths of the texts."""

    def __init__(self):
        self.calls: list[list] = []

    def judge(self, requests):
        self.calls.append(list(requests))
        return [((len(r.response) * 7 + len(r.criterion)) % 10) / 10 for r in requests]


def rows():
    return [{"prompt": "2+2?", "answer": "4", "response": text}
            for text in ["\\boxed{4}", "It is 4.", "", "It is 5.", "\\boxed{4}", "   "]]


def test_every_judge_item_is_asked_in_one_call_and_gated_rows_ask_nothing():
    scorer = rubricc.compile(RUBRIC)
    judge = Recorder()
    try:
        batch = scorer.score_rows(rows(), judge=judge)
    finally:
        scorer.close()
    assert len(judge.calls) == 1
    asked = judge.calls[0]
    assert {r.response for r in asked} == {"\\boxed{4}", "It is 4.", "It is 5."}  # not the empty
    assert len(asked) == 3 * 3  # distinct (response, item) pairs: the repeated response once
    assert batch.valid.all()


def test_the_plan_scores_as_asking_item_by_item(monkeypatch):
    scorer = rubricc.compile(RUBRIC)
    try:
        planned = scorer.score_rows(rows(), judge=Recorder())
        monkeypatch.setattr(type(scorer), "judged", property(lambda self: False))
        per_item = scorer.score_rows(rows(), judge=Recorder())
    finally:
        scorer.close()
    assert planned.total.tolist() == per_item.total.tolist()
    assert planned.values.nan_to_num(-1).tolist() == per_item.values.nan_to_num(-1).tolist()
    assert planned.counts["computed"] == per_item.counts["computed"]
    assert planned.counts["judge_requests"] == 9


def test_heavy_built_ins_run_once_across_the_two_passes(monkeypatch):
    seen = []
    original = BatchRuntime.heavy

    def counting(self, rows, fn, *operands):
        out = original(self, rows, fn, *operands)
        seen.append(self.calls["computed"])
        return out

    monkeypatch.setattr(BatchRuntime, "heavy", counting)
    scorer = rubricc.compile(RUBRIC)
    try:
        batch = scorer.score_rows(rows(), judge=Recorder())
    finally:
        scorer.close()
    first, second = seen  # math_equal's op, in each pass: the second computes nothing new
    assert first > 0 and second == 0 and batch.counts["computed"] == first


EACH = """
rubric per_row {
    input answer: text
    input rubric: list[{text: text, weight: number}]
    let right = math_equal(answer, "4")
    judge each item in rubric weight item.weight: if right then item.text else "Is wrong."
}
"""


def test_a_heavy_let_inside_a_criterion_runs_once_per_distinct_row():
    scorer = rubricc.compile(EACH)
    rubric = [{"text": "Is clear.", "weight": 1}, {"text": "Is kind.", "weight": 2}]
    same = {"prompt": "2+2?", "answer": "4", "rubric": rubric, "response": "It is 4."}
    try:
        batch = scorer.score_rows([same] * 8 + [same | {"answer": "5"}], judge=Recorder())
    finally:
        scorer.close()
    assert batch.valid.all()
    assert batch.counts["heavy_calls"] == 2  # one per distinct row, over both passes of the plan
