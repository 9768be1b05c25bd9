"""Two engines, one spec: the compiled batch scorer agrees exactly with the reference interpreter,
on every shipped rubric and on the language cases, over random batches."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from rubricc.interpreter import interpret_batch
from rubricc.judges import PinnedJudge
from rubricc.pipeline import build, front
from rubricc.runtime.services import Services
from tests.conftest import CASES, ROOT, all_rubrics, as_tuple, grpo_batch


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


VERDICTS = {"emergency": 0.9, "diagnosis": 0.2, "plain": 0.6, "criteria": 0.7, "accurate": 1.0,
            "cites": 0.0, "hedges": 0.4, "answer_only": 0.5, "calm": 0.8, "logged": 0.3}


class GroupJudge(PinnedJudge):
    """Pinned verdicts, except that a `judge relative` request's verdict is its response's place
    in its group (both engines must form the same groups to agree), and a `judge ... on EXPR`
    request's depends on the text it is shown (both must show the same text)."""

    def judge(self, requests):
        pinned = super().judge(requests)
        return [(r.group.index(r.response) + 1) / len(r.group) if r.group
                else len(r.response) % 5 / 4 if r.item == "answer_only" else v
                for r, v in zip(requests, pinned)]


@pytest.mark.parametrize("checked", list(all_rubrics()))
def test_compiled_equals_interpreted(checked):
    scorer = build(checked)
    judge = GroupJudge(VERDICTS)
    try:
        for seed in range(3):
            rows = grpo_batch(random.Random(seed), checked.inputs)
            compiled = scorer.score_rows(rows, judge=judge).rows
            services = Services(scorer.services().pool, judge)
            for row, got, want in zip(rows, compiled, interpret_batch(checked, rows, services)):
                assert as_tuple(got) == as_tuple(want), json.dumps(row)
    finally:
        scorer.close()


def test_generated_code_is_deterministic():
    sources = []
    for _ in range(2):
        result = front(CASES)
        sources.append([build(c).python_source() for c in result.rubrics])
    assert sources[0] == sources[1]


def test_judge_templates_are_named_constants_in_the_generated_code():
    text = (
        'template terse = """Grade the response.\n<response-{{ fence }}>\n{{ response }}\n'
        '</response-{{ fence }}>\nCriterion: {{ criterion }}"""\n'
        'template latex = "Grade \\boxed{} answers. <r>{{ response }}</r> {{ criterion }}"\n'
        'rubric judged {\n judge a: "Is clear."\n judge b template terse: "Is kind."\n'
        ' judge c: "Is brief."\n judge d template latex: "Is right."\n}\n')
    [checked] = front(text).rubrics
    source = build(checked).python_source()
    assert source.count("You are grading a response") == 1 and source.count("Grade the response.") == 1
    assert "rt.judge(R0, 'a', 'Is clear.', DEFAULT_TEMPLATE, None)" in source
    assert "rt.judge(R0, 'b', 'Is kind.', TEMPLATE_1, None)" in source
    assert "TEMPLATE_2 = 'Grade \\\\boxed{}" in source  # a backslash: written with repr
    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our own generated code
    assert namespace["TEMPLATE_1"] == checked.item("b").template.text
    assert namespace["TEMPLATE_2"] == checked.item("d").template.text


def test_dedupe_computes_each_call_once_per_batch():
    [checked] = front(ROOT / "rubrics" / "math" / "answer.rubric").rubrics
    scorer = build(checked)
    try:
        batch = scorer.score(responses=["\\boxed{4}"] * 8 + ["\\boxed{5}"] * 8, answer=["4"] * 16)
    finally:
        scorer.close()
    assert batch.total.tolist() == [1.0] * 8 + [0.0] * 8
    # strip_think, final_answer and math_equal each run for 2 distinct responses, not 16
    assert batch.counts["computed"] == 6
    assert batch.counts["deduped"] == 3 * 16 - 6


def test_gated_rows_never_reach_the_judge():
    seen = []

    class Recording(PinnedJudge):
        def judge(self, requests):
            seen.extend((r.item, r.response) for r in requests)
            return super().judge(requests)

    triage = front(CASES).rubrics[0]
    scorer = build(triage)
    batch = scorer.score(responses=["no think tags", "<think>x</think> Call 911."],
                         judge=Recording(VERDICTS))
    scorer.close()
    # `answer_only` is shown the answer after the reasoning (`on answer`), the others the response
    assert seen and set(seen) == {(item, "<think>x</think> Call 911.") for item, _ in seen
                                  if item != "answer_only"} | {("answer_only", "Call 911.")}
    assert batch.total[0].item() == -1.0
    assert batch.status_of(0, "emergency") == "skipped"


def test_reward_batch_tensors(tmp_path: Path):
    scorer = build(front(ROOT / "rubrics" / "math" / "answer.rubric").rubrics[0])
    try:
        batch = scorer.score(responses=["\\boxed{4}", "no answer", "\\boxed{5}"], answer=["4"] * 3)
    finally:
        scorer.close()
    assert batch.names == ["has_answer", "correct"]
    assert batch.values.shape == (3, 2) and str(batch.values.dtype) == "torch.float32"
    assert batch.status_of(1, "correct") == "skipped"
    assert math.isnan(batch.values[1, 1].item())
    assert batch.total.tolist() == [1.0, 0.0, 0.0]
    assert batch.valid.all()
    assert batch.item("correct")[0].item() == 1.0
    moved = batch.to("cpu")
    assert moved.names == batch.names and moved.status.dtype == batch.status.dtype


def test_calls_with_list_and_json_arguments_are_deduped():
    scorer = build(front(ROOT / "rubrics" / "ifeval" / "ifeval.rubric").rubrics[0])
    row = {"prompt": "p", "response": "no commas here", "kwargs": [{}],
           "instruction_id_list": ["punctuation:no_comma"]}
    try:
        batch = scorer.score_rows([row] * 4)
    finally:
        scorer.close()
    assert batch.total.tolist() == [1.0] * 4
    # strict, loose, fraction and the attempts gate (refuses, echoes, loops): 6 calls, each once
    assert batch.counts["computed"] == 6 and batch.counts["deduped"] == 18
