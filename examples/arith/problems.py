"""The synthetic verifiable task: add two numbers, answer in `<answer>...</answer>`.

Rows are what a trainer and `rubrics/arith/answer.rubric` read: `prompt` (the user turn),
`answer` (the reference) and, for the supervised warm-up, `completion` (the target response).

>>> problems(1, seed=0)
[{'prompt': '874+404=', 'answer': '1278', 'completion': '<answer>1278</answer>'}]
>>> train, validation, held_out = splits(1000, 100, 100)
>>> disjoint(train, held_out) and disjoint(validation, held_out) and disjoint(train, validation)
True
"""

from __future__ import annotations

import json
import random
from pathlib import Path

LOW, HIGH = 10, 999  # operands: two- and three-digit numbers


def problem(rng: random.Random, low: int = LOW, high: int = HIGH) -> dict:
    a, b = rng.randint(low, high), rng.randint(low, high)
    total = str(a + b)
    return {"prompt": f"{a}+{b}=", "answer": total, "completion": f"<answer>{total}</answer>"}


def problems(n: int, seed: int, exclude: set[str] | None = None) -> list[dict]:
    """`n` distinct problems drawn with `seed`, none of whose prompts is in `exclude`."""
    rng, seen, rows = random.Random(seed), set(exclude or ()), []
    while len(rows) < n:
        row = problem(rng)
        if row["prompt"] not in seen:
            seen.add(row["prompt"])
            rows.append(row)
    return rows


def splits(*sizes: int, seed: int = 0) -> list[list[dict]]:
    """Sets of these sizes (train, validation, held-out, ...) with no prompt in common."""
    out, seen = [], set()
    for i, size in enumerate(sizes):
        rows = problems(size, seed=seed * 1000 + i, exclude=seen)
        seen |= {r["prompt"] for r in rows}
        out.append(rows)
    return out


def disjoint(a: list[dict], b: list[dict]) -> bool:
    return not {r["prompt"] for r in a} & {r["prompt"] for r in b}


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
