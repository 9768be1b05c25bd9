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

On the test cases a third path is math-verify per sample with its parser predicting SLL before
LL, as `math_equal` has it (`mathx_verify.math_verify`): how much of the difference a
math-verify user would get from that change alone.

Before each repeat the pool's workers forget the answers they cached by text (math-verify's own
caches hold 20 entries), so every repeat reads its answers anew, as a trainer reads each step's
new answers; what both sides' parsers learn (ANTLR's prediction cache) stays, as in a running
trainer. The first repeat of each side starts with both parsers cold, and their ratio is
printed too. Prints a table per data set and a last line `speedup: X.XXx` (math-verify median
over compiled median, GRPO-shaped rows).
"""

from __future__ import annotations

import argparse
import contextlib
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


@contextlib.contextmanager
def two_stage_parsing():
    """math-verify's parser in this process predicting SLL first, as in `math_equal`'s workers."""
    from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy

    from rubricc.builtins.mathx_verify import _two_stage

    stock = _Latex2Sympy.create_parser
    assert not hasattr(stock, "__wrapped__"), "the per-sample path must run math-verify as shipped"
    _Latex2Sympy.create_parser = _two_stage(stock)
    try:
        yield
    finally:
        _Latex2Sympy.create_parser = stock


def run_math_verify_two_stage(rows: Rows, size: int) -> torch.Tensor:
    with two_stage_parsing():
        return run_math_verify(rows, size)


def run_compiled(scorer, rows: Rows, size: int) -> torch.Tensor:
    return torch.cat([scorer.score(responses=c, answer=a).total for c, a in in_batches(rows, size)])


def timed(run: Callable[..., torch.Tensor], *args) -> tuple[float, torch.Tensor]:
    started = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - started, result


FORGET = "rubricc.builtins.mathx:forget_readings"


def forget_in_workers(scorer) -> None:
    """Every pool worker drops the readings it cached by text (`forget_readings`), keeping what
    its parsers learned: the first dispatch of a run gives one call to each idle worker."""
    pool = scorer.services().pool
    pool.run([(FORGET, ())] * (2 * pool.size))


PER_SAMPLE, TWO_STAGE, COMPILED = ("math-verify per sample", "math-verify, SLL first",
                                   "compiled rubric")


def side_by_side(scorer, rows: Rows, size: int, repeats: int,
                 two_stage: bool) -> dict[str, tuple[list[float], torch.Tensor]]:
    """Interleaved repeats of the paths, so that a noisy minute hits all. Before each compiled
    repeat the workers forget the answers they read, as math-verify's 20-entry caches do: each
    repeat reads its answers anew, as a trainer reads each step's new answers, with parsers as
    warm as a running trainer's."""
    paths = [(PER_SAMPLE, run_math_verify, (rows, size))]
    if two_stage:
        paths.append((TWO_STAGE, run_math_verify_two_stage, (rows, size)))
    paths.append((COMPILED, run_compiled, (scorer, rows, size)))
    runs: dict[str, tuple[list[float], torch.Tensor]] = {name: ([], None) for name, _, _ in paths}
    for _ in range(repeats):
        forget_in_workers(scorer)
        for name, run, args in paths:
            seconds, result = timed(run, *args)
            runs[name][0].append(seconds)
            runs[name] = (runs[name][0], result)
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
    naive, compiled = runs[PER_SAMPLE][0], runs[COMPILED][0]
    console.print(f"first runs, both parsers cold: {naive[0] / compiled[0]:.2f}x")
    if TWO_STAGE in runs:
        console.print(f"math-verify per sample, SLL first: "
                      f"{statistics.median(naive) / statistics.median(runs[TWO_STAGE][0]):.2f}x "
                      f"its stock speed")
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
    rows = make_rows(args.rows, False, args.seed)
    ratios = []
    for title, data, size, two_stage in (
            (f"math-verify's {len(cases.responses)} test cases, one batch", cases,
             len(cases.responses), True),
            (f"{args.rows:,} GRPO-shaped rows, batches of {args.batch}", rows, args.batch, False)):
        scorer = pipeline.compile(RUBRIC)  # each data set starts both parsers' learning anew
        try:
            started = time.perf_counter()
            start_pool(scorer)
            console.print(f"pool start, each worker's warm-up included: "
                          f"{time.perf_counter() - started:.2f} s")
            runs = side_by_side(scorer, data, size, args.repeats, two_stage)
            ratios.append(report(title, data, runs, console))
        finally:
            scorer.close()
    console.print(f"test cases: speedup {ratios[0]:.2f}x")
    console.print(f"{os.cpu_count()} cores; load average {load:.1f} before, "
                  f"{os.getloadavg()[0]:.1f} after")
    print(f"speedup: {ratios[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
