"""Hostile response texts against the extraction built-ins, which run in-process with no deadline.

Each row of tests/cases/attacks/runtime/degenerate_text.jsonl builds one text (`prefix`, `unit`
repeated `times`, `suffix`) of at least 100 KB, which the built-in must handle in under 2 s.
`final_answer`'s candidate scan is checked against the single pattern it replaced, run with
`finditer` (quadratic on those texts, but the meaning): the linear scan must find the same spans.
"""

import json
import random
import re
import time
from pathlib import Path

import pytest

from rubricc.builtins import REGISTRY
from rubricc.builtins.extract import _BRACKET_SPANS, _DOLLAR_SPANS, _NUMBER, _candidates

ATTACKS = Path(__file__).parent / "cases" / "attacks" / "runtime" / "degenerate_text.jsonl"
ROWS = [json.loads(line) for line in ATTACKS.read_text(encoding="utf-8").splitlines() if line.strip()]

# The pattern `_candidates` replaced: the oracle for which spans are candidates (the spans and the
# number as the module writes them, in one pattern, without the helpers that keep the scan linear).
ORACLE = re.compile("|".join([_DOLLAR_SPANS, _BRACKET_SPANS, _NUMBER]), re.DOTALL)
TOKENS = ["1", "12", "123", "1234", "0", ",", ",", " ", ".", "-", "/", "$", "$", "$$", "\\", "\\$",
          "\\(", "\\)", "\\[", "\\]", "a", "\n", ",123", ",12", " 123", " 3/4", "½", "²", "−",
          "π", "√", "∛", "∞", "×", " × ", "÷", "·", "%", "...", "…", "(3)", "(", ")", "⁻", "\\overline{3}",
          "i", "j", "±", "+", " + ", " − "]


def oracle(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), next(g for g in m.groups() if g is not None))
            for m in ORACLE.finditer(text)]


def build(row: dict, times: int | None = None) -> str:
    return row["prefix"] + row["unit"] * (row["times"] if times is None else times) + row["suffix"]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['fn']}:{r['prefix']}{r['unit']}*" for r in ROWS])
def test_a_degenerate_response_is_handled_in_linear_time(row: dict) -> None:
    text = build(row)
    assert len(text) >= 100_000, "make the attack at least 100 KB"
    started = time.perf_counter()
    REGISTRY[row["fn"]].fn(text)
    assert time.perf_counter() - started < 2.0, row["why"]


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['prefix']}{r['unit']}*" for r in ROWS])
def test_the_attacks_find_the_candidates_the_old_pattern_found(row: dict) -> None:
    text = build(row, times=60)
    assert list(_candidates(text)) == oracle(text)


def test_random_texts_find_the_candidates_the_old_pattern_found() -> None:
    rng = random.Random(0)
    for _ in range(20_000):
        text = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 30)))
        assert list(_candidates(text)) == oracle(text), text
