r"""Math scoring: the compiled `rubrics/math/answer.rubric` against math-verify called the usual way.

    python bench/math_vs_mathverify.py [--rows 4096] [--repeats 3] [--batch 1024]

The usual way is what a reward function for a trainer does with Hugging Face's math-verify: for
each sample, in-process, `verify(parse(gold), parse(completion))` with its default settings (its
own signal-based timeouts included). Two data sets, each timed side by side in one run:

1. math-verify's own 276 test cases (`tests/data/math/mathverify_cases.jsonl`): seconds for
   the whole set, and how many cases each side gets right against the cases' `expected`.
2. GRPO-shaped batches from `bench/score_math.py` (8 responses per prompt, 2-3 distinct final
   answers per prompt repeated across the 8, each in its own reasoning text): seconds, and
   agreement with the reward each row was built to have.

Each repeat of the compiled side uses a new scorer, its pool started and warmed beforehand (out of
the timing), so no repeat finds the rows' readings cached by an earlier one. Prints a table per
data set and a last line `speedup: X.XXx` (math-verify median over compiled median, GRPO-shaped
rows).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_math import RUBRIC, Rows, in_batches, make_rows, start_pool  # noqa: E402  (the same rows)

import rubricc.pipeline as pipeline  # noqa: E402

CASES = Path(__file__).resolve().parents[1] / "tests" / "data" / "math" / "mathverify_cases.jsonl"


def math_verify_reward(completions: list[str], answer: list[str], **kwargs) -> list[float]:
    """Per sample, in-process: math-verify as its README shows it."""
    from math_verify import parse, verify

    return [float(verify(parse(gold), parse(completion)))
            for completion, gold in zip(completions, answer, strict=True)]


def run_math_verify(rows: Rows, size: int) -> torch.Tensor:
    return torch.cat([torch.tensor(math_verify_reward(c, answer=a), dtype=torch.float32)
                      for c, a in in_batches(rows, size)])


def run_compiled(scorer, rows: Rows, size: int) -> torch.Tensor:
    return torch.cat([scorer.score(responses=c, answer=a).total for c, a in in_batches(rows, size)])


def timed(run: Callable[..., torch.Tensor], *args) -> tuple[float, torch.Tensor]:
    started = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - started, result


def fresh_scorer(seed: int):
    """A new compiled rubric with its pool started and warmed on unrelated rows: each repeat then
    scores its rows with cold parse caches, as a trainer scores each step's new answers (the same
    scorer again would find the rows' readings cached by the previous repeat)."""
    scorer = pipeline.compile(RUBRIC)
    start_pool(scorer)
    run_compiled(scorer, make_rows(16, False, seed + 1), 16)
    return scorer


def side_by_side(rows: Rows, size: int, repeats: int, seed: int) -> dict[str, tuple[list[float], torch.Tensor]]:
    """Interleaved repeats of both paths, so that a noisy minute hits both."""
    runs: dict[str, tuple[list[float], torch.Tensor]] = {"math-verify per sample": ([], None),
                                                          "compiled rubric": ([], None)}
    for _ in range(repeats):
        scorer = fresh_scorer(seed)
        try:
            for name, run, args in (("math-verify per sample", run_math_verify, (rows, size)),
                                    ("compiled rubric", run_compiled, (scorer, rows, size))):
                seconds, result = timed(run, *args)
                runs[name][0].append(seconds)
                runs[name] = (runs[name][0], result)
        finally:
            scorer.close()
    return runs


def report(title: str, rows: Rows, runs, console: Console) -> float:
    table = Table(title=title)
    for column in ("path", "median s", "rows/s", "agrees with expected", "runs s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    expected = torch.tensor(rows.expected, dtype=torch.float32)
    for name, (seconds, result) in runs.items():
        median = statistics.median(seconds)
        agree = int((result == expected).sum())
        table.add_row(name, f"{median:.2f}", f"{len(rows.responses) / median:,.0f}",
                      f"{agree}/{len(rows.responses)}", " ".join(f"{s:.2f}" for s in seconds))
    console.print(table)
    (naive, _), (compiled, _) = runs.values()
    console.print(f"first runs, both cold: {naive[0] / compiled[0]:.2f}x (math-verify's later runs "
                  "find ANTLR's prediction cache warm in this process; each compiled run has a new pool)")
    return statistics.median(naive) / statistics.median(compiled)


def load_cases() -> Rows:
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()]
    return Rows([c["pred"] for c in cases], [c["gold"] for c in cases],
                [float(c["expected"]) for c in cases])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4096, help="GRPO-shaped rows (8 per prompt)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each path")
    parser.add_argument("--batch", type=int, default=1024, help="rows per scoring call")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    console = Console(width=110)
    load = os.getloadavg()[0]
    math_verify_reward(["\\boxed{1}"], ["1"])  # import math-verify and its LaTeX parser
    cases = load_cases()
    ratio = report(f"math-verify's {len(cases.responses)} test cases, one batch", cases,
                   side_by_side(cases, len(cases.responses), args.repeats, args.seed), console)
    console.print(f"test cases: speedup {ratio:.2f}x")
    rows = make_rows(args.rows, False, args.seed)
    ratio = report(f"{args.rows:,} GRPO-shaped rows, batches of {args.batch}", rows,
                   side_by_side(rows, args.batch, args.repeats, args.seed), console)
    console.print(f"{os.cpu_count()} cores; load average {load:.1f} before, "
                  f"{os.getloadavg()[0]:.1f} after")
    print(f"speedup: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
