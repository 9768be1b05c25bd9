"""The tools pack (rubrics/tools/call.rubric) and its example rubric on rows that make tool calls:
the scores of examples/tool_completions.jsonl, both engines agreeing on mutations of those rows
(tests/test_engines.py's random rows make no calls, so they never pass the pack's gate), and
`tool_calls` on degenerate text."""

from __future__ import annotations

import json
import random
import re
import time

import pytest

from rubricc.builtins.structured import _tagged, tool_call, tool_calls
from rubricc.interpreter import interpret_batch
from rubricc.pipeline import build, front
from rubricc.runtime.services import Services
from tests.conftest import ROOT, as_tuple

PACK = ROOT / "rubrics" / "tools" / "call.rubric"
EXAMPLE = ROOT / "examples" / "function_calling.rubric"
ROWS = [json.loads(line) for line in (ROOT / "examples" / "tool_completions.jsonl").read_text().splitlines()]

# the pack's reward for each row of the example file, in order (rubrics/tools/README.md explains them)
PACK_REWARDS = [1, 1, 0.3125, 0.375, 0, 0.5, 0, 0, 1, 0.5625, 1, 1, 0.4375, 0.4375]
EXAMPLE_REWARDS = [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0]


@pytest.mark.parametrize(("path", "rewards"), [(PACK, PACK_REWARDS), (EXAMPLE, EXAMPLE_REWARDS)])
def test_the_example_file_scores(path, rewards):
    scorer = build(front(path).rubrics[0])
    try:
        batch = scorer.score_rows(ROWS)
    finally:
        scorer.close()
    assert batch.valid.all()
    assert batch.total.tolist() == pytest.approx(rewards)


def mutate(rng: random.Random, row: dict) -> dict:
    """A row of the example file with its response cut, doubled, spliced or its calls reordered,
    or its expected calls changed, so that every item of the pack sees odd input."""
    response, expected = row["response"], list(row["expected"])
    choice = rng.randrange(7)
    if choice == 0:
        response = response[: rng.randrange(len(response) + 1)]
    elif choice == 1:
        response = response + "\n" + rng.choice(ROWS)["response"]
    elif choice == 2:
        response = response.replace("Paris", rng.choice(["Rome", "paris", "Paris"]))
    elif choice == 3:
        expected = expected + rng.choice(ROWS)["expected"]
    elif choice == 4:
        expected = [{"name": e["name"], "arguments": {}} for e in expected]
    elif choice == 5:
        response = response.replace('"arguments": {', '"arguments": [').replace("}}", "]}")
    else:
        response = "<tool_call>" + response
    return row | {"response": response, "expected": expected}


@pytest.mark.parametrize("path", [PACK, EXAMPLE], ids=["pack", "example"])
def test_both_engines_agree_on_rows_with_calls(path):
    checked = front(path).rubrics[0]
    scorer = build(checked)
    rng = random.Random(0)
    rows = ROWS + [mutate(rng, rng.choice(ROWS)) for _ in range(200)]
    try:
        compiled = scorer.score_rows(rows).rows
        interpreted = interpret_batch(checked, rows, Services(scorer.services().pool, None))
    finally:
        scorer.close()
    for row, got, want in zip(rows, compiled, interpreted):
        assert as_tuple(got) == as_tuple(want), json.dumps(row)
    assert {r.status for r in compiled} == {"ok", "gated"}  # no row the pack cannot score


OLD_TAG = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)  # the pattern _tagged replaced


def test_tags_are_found_as_the_old_pattern_found_them():
    rng = random.Random(0)
    pieces = ["<tool_call>", "</tool_call>", " ", "\n", "x", "{}", "<tool_call", "/tool_call>"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert _tagged(text) == OLD_TAG.findall(text), text


@pytest.mark.parametrize("text", ["<tool_call>" * 100_000, "<tool_call>" + " " * 200_000,
                                  '<tool_call>{"name": "f"}</tool_call>' * 5_000 + "<tool_call>" * 50_000],
                         ids=["unclosed", "blank", "closed-then-unclosed"])
def test_degenerate_text_is_fast(text):
    started = time.perf_counter()
    tool_call(text)
    tool_calls(text)
    assert time.perf_counter() - started < 2.0
