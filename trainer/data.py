"""Prompts in: a JSONL file checked against the rubric's inputs, served in seeded shuffled epochs.

    rows = load_prompts("data/math.jsonl", scorer.inputs_of)   # [{"prompt": ..., "answer": ...}]
    batch = take(rows, cursor=16, count=8, seed=0)              # prompts 16..23 of the stream

The stream is endless: epoch e is the rows in an order fixed by (seed, e), so a position in the
stream (the data cursor, saved in checkpoints) says exactly which prompts come next.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from functools import lru_cache

from rubricc import types as t
from rubricc.data import MISSING_COLUMN, WRONG_TYPE, read_jsonl

SHOWN_PROBLEMS = 20


def load_prompts(path: str, inputs_of: Callable[[dict], dict[str, t.Type]]) -> list[dict]:
    """Every row of `path`, or a ValueError naming each bad row by its line. `inputs_of(row)`:
    the columns the row must have (`Scorer.inputs_of`: a routed rubric's on its own rows only)."""
    rows, problems = [], []
    for row in read_jsonl(path):
        wanted = {"prompt": t.TEXT}
        if not row.problem:
            wanted |= {k: v for k, v in inputs_of(row.data).items() if k != "response"}
        problem = row.problem or _problem(row.data, row.line, wanted, path)
        if problem:
            problems.append(problem)
        else:
            rows.append(row.data)
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        shown = problems[:SHOWN_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise ValueError(f"{path}: {len(problems)} bad row(s):\n  " + "\n  ".join(shown))
    if not rows:
        raise ValueError(f"{path}: no prompts")
    return rows


def _problem(data: dict, line: int, wanted: dict[str, t.Type], path: str) -> str:
    for name, typ in wanted.items():
        if name not in data:
            if not t.is_optional(typ):
                return f"{path}:{line}: {MISSING_COLUMN} missing column `{name}` ({t.render(typ)})"
        elif not t.conforms(data[name], typ):
            shown = json.dumps(data[name])[:60]
            return (f"{path}:{line}: {WRONG_TYPE} column `{name}` should be {t.render(typ)}, "
                    f"found {type(data[name]).__name__} {shown}")
    return ""


def take(rows: list[dict], cursor: int, count: int, seed: int) -> list[dict]:
    """Rows at positions cursor .. cursor+count-1 of the shuffled stream."""
    picked = []
    for position in range(cursor, cursor + count):
        epoch, i = divmod(position, len(rows))
        picked.append(rows[_order(len(rows), seed, epoch)[i]])
    return picked


@lru_cache(maxsize=4)
def _order(size: int, seed: int, epoch: int) -> tuple[int, ...]:
    order = list(range(size))
    random.Random(f"{seed}/{epoch}").shuffle(order)  # its own generator: the global one is untouched
    return tuple(order)
