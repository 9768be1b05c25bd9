r"""Math scoring: the compiled `rubrics/math/answer.rubric` against a per-sample Python reward.

    python bench/score_math.py [--rows 10000] [--repeats 3] [--batch 1024] [--distinct]

Both sides run the same checks on the same rows: `final_answer(strip_think(response))`, 0 when
that is none, else `math_equal(final, answer)`. The naive side is the reward function a TRL user
writes, a loop over samples calling the functions in-process. The compiled side is the `Scorer`:
identical (function, arguments) calls are computed once per batch, and `math_equal` runs in its
worker pool (min(cores, 4) processes: 2 on a 2-core machine). Every row must get the same reward
from both (asserted), and the reward the data was built to have (else exit status 1); then the
script prints median times over `--repeats` and a last line `speedup: X.XXx`.

The rows are GRPO-shaped: 8 responses per prompt, and per prompt 2-3 distinct final answers
(an equivalent form of the gold answer, a wrong one, or none) repeated across the 8, each in its
own reasoning text. `--distinct` gives every response its own final answer, so nothing dedupes.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

import rubricc.pipeline as pipeline
from rubricc.builtins import REGISTRY

RUBRIC = Path(__file__).resolve().parents[1] / "rubrics" / "math" / "answer.rubric"
GROUP = 8  # responses per prompt, as in GRPO

final_answer = REGISTRY["final_answer"].fn
strip_think = REGISTRY["strip_think"].fn
math_equal = REGISTRY["math_equal"].fn


# ---------------------------------------------------------------- the reward as TRL users write it


def reward(completions: list[str], answer: list[str], **kwargs) -> list[float]:
    """Per-sample Python: the same functions as the rubric, one row at a time, in-process."""
    rewards = []
    for completion, gold in zip(completions, answer, strict=True):
        final = final_answer(strip_think(completion))
        rewards.append(0.0 if final is None else float(math_equal(final, gold)))
    return rewards


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class Gold:
    """A reference answer and the answers a policy might box for it."""

    latex: str
    """The `answer` column."""
    right: tuple[str, ...]
    """Equivalent forms, natural ones first; at least 8, all different strings."""
    wrong: tuple[str, ...]
    """Wrong answers, all different; at least 8."""


def integer_gold(rng: random.Random) -> Gold:
    n = rng.randint(-40, 400)
    right = [str(n), f"{n}.0", f"x = {n}", f"\\frac{{{2 * n}}}{{2}}"]
    right += [f"\\frac{{{k * n}}}{{{k}}}" for k in range(3, 7)]
    return Gold(str(n), tuple(right), tuple(str(n + d) for d in (1, -1, 2, 10, -3, 7, 20, -11)))


def fraction_gold(rng: random.Random) -> Gold:
    q = rng.choice([3, 4, 5, 6, 7, 8, 9, 12])
    p = rng.choice([p for p in range(1, 4 * q) if math.gcd(p, q) == 1])
    right = [f"{p}/{q}", f"\\dfrac{{{p}}}{{{q}}}", f"\\frac{{{p}}}{{{q}}}"]
    if q in (4, 5, 8):
        right.insert(0, f"{p / q:g}")  # a terminating decimal: 0.75 against \frac{3}{4}
    right += [f"\\frac{{{k * p}}}{{{k * q}}}" for k in range(2, 8)]
    wrong = [f"\\frac{{{q}}}{{{p + d}}}" for d in range(8)]  # q/(p+d) is never p/q for q > 2
    return Gold(f"\\frac{{{p}}}{{{q}}}", tuple(right), tuple(wrong))


def decimal_gold(rng: random.Random) -> Gold:
    tenths = rng.choice([t for t in range(1, 200) if t % 10])
    value = f"{tenths / 10:g}"
    right = [value, f"{value}0", f"\\frac{{{tenths}}}{{10}}", f"{value}00"]
    right += [f"\\frac{{{k * tenths}}}{{{k * 10}}}" for k in range(2, 6)]
    wrong = [f"{(tenths + d) / 10:g}" for d in (1, -1, 5, 10, 2, -2, 3, 11)]
    return Gold(value, tuple(right), tuple(wrong))


def sqrt_gold(rng: random.Random) -> Gold:
    a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7, 10, 11])
    right = [f"{a}\\sqrt{{{b}}}", f"\\sqrt{{{a * a * b}}}", f"{a} \\sqrt{{{b}}}",
             f"\\sqrt{{{b}}}\\cdot {a}"]
    right += [f"\\frac{{{k * a}\\sqrt{{{b}}}}}{{{k}}}" for k in range(2, 6)]
    wrong = [f"{a}\\sqrt{{{b + 1}}}", f"{a + 1}\\sqrt{{{b}}}", f"{a * b}", f"\\sqrt{{{a * b}}}"]
    wrong += [f"{a + d}\\sqrt{{{b}}}" for d in (2, 3, 4, 5)]
    return Gold(f"{a}\\sqrt{{{b}}}", tuple(right), tuple(wrong))


def tuple_gold(rng: random.Random) -> Gold:
    a, b = rng.sample(range(-9, 20), 2)
    right = [f"({a}, {b})", f"({a},{b})", f"\\left({a}, {b}\\right)",
             f"({a}, \\frac{{{2 * b}}}{{2}})"]
    right += [f"(\\frac{{{k * a}}}{{{k}}}, {b})" for k in range(2, 6)]
    wrong = [f"({b}, {a})"] + [f"({a}, {b + d})" for d in range(1, 8)]
    return Gold(f"({a}, {b})", tuple(right), tuple(wrong))


GOLD_KINDS = (integer_gold, fraction_gold, decimal_gold, sqrt_gold, tuple_gold)


OUTCOMES, OUTCOME_WEIGHTS = ("right", "wrong", "none"), (5, 4, 1)


@dataclass(frozen=True)
class Answer:
    """What one response ends on: a final answer string (or none) and the reward it deserves."""

    final: str | None
    expected: float


def render(answer: Answer, decoy: str, group: int, index: int, rng: random.Random) -> str:
    """A response that ends on `answer`, with its own reasoning text."""
    thinking = f"Problem {group}, attempt {index}: let me set up the equations and simplify."
    if answer.final is None:
        return rng.choice([
            f"<think>{thinking}</think>\nI could not finish this one.",
            f"<think>{thinking} Maybe \\boxed{{{decoy}}}?</think>",  # the box is in the thinking
        ])
    final = answer.final
    return rng.choice([
        f"{thinking} So the answer is $\\boxed{{{final}}}$.",
        f"<think>{thinking}</think>\nThe final answer is \\boxed{{{final}}}.",
        f"<think>{thinking} Maybe \\boxed{{{decoy}}}?</think> Checking again: \\boxed{{{final}}}",
        f"{thinking}</think>\n\n$\\boxed{{{final}}}$",  # the chat template opened <think>
        f"{thinking}\nThe answer is ${final}$.",
    ])


def group_answers(gold: Gold, distinct: bool, rng: random.Random) -> list[Answer]:
    """The final answers of one prompt's 8 responses."""
    if distinct:  # form i for response i: no two responses share a final answer
        outcomes = rng.choices(OUTCOMES, OUTCOME_WEIGHTS, k=GROUP)
        return [answer_for(gold, outcome, i) for i, outcome in enumerate(outcomes)]
    wanted, picked = rng.choice([2, 3]), []
    while len(picked) < wanted:
        answer = answer_for(gold, rng.choices(OUTCOMES, OUTCOME_WEIGHTS)[0], rng.randrange(4))
        if answer not in picked:
            picked.append(answer)
    return [picked[i % wanted] for i in rng.sample(range(GROUP), GROUP)]


def answer_for(gold: Gold, outcome: str, form: int) -> Answer:
    if outcome == "none":
        return Answer(None, 0.0)
    return Answer(gold.right[form], 1.0) if outcome == "right" else Answer(gold.wrong[form], 0.0)


@dataclass(frozen=True)
class Rows:
    responses: list[str]
    answers: list[str]
    expected: list[float]


def make_rows(count: int, distinct: bool, seed: int) -> Rows:
    """`count` rows, 8 per prompt, the same for the same seed; no two prompts share a gold."""
    rng, golds, rows = random.Random(seed), set(), Rows([], [], [])
    group = 0
    while len(rows.responses) < count:
        gold = rng.choice(GOLD_KINDS)(rng)
        if gold.latex in golds:
            continue
        golds.add(gold.latex)
        for index, answer in enumerate(group_answers(gold, distinct, rng)):
            rows.responses.append(render(answer, gold.wrong[-1], group, index, rng))
            rows.answers.append(gold.latex)
            rows.expected.append(answer.expected)
        group += 1
    return Rows(rows.responses[:count], rows.answers[:count], rows.expected[:count])


# ---------------------------------------------------------------- timing


def in_batches(rows: Rows, size: int):
    for start in range(0, len(rows.responses), size):
        yield rows.responses[start : start + size], rows.answers[start : start + size]


def run_naive(rows: Rows, size: int) -> torch.Tensor:
    """The trainer's loop with the per-sample reward: one call per batch, rewards to a tensor."""
    return torch.cat([torch.tensor(reward(c, answer=a), dtype=torch.float32)
                      for c, a in in_batches(rows, size)])


def run_compiled(scorer, rows: Rows, size: int, account: Counter) -> torch.Tensor:
    """Batches as a trainer sends them; `account` sums the scorer's counts and pool seconds."""
    totals = []
    for responses, answers in in_batches(rows, size):
        batch = scorer.score(responses=responses, answer=answers)
        totals.append(batch.total)
        account.update(batch.counts)
        account["heavy_s"] += batch.timings.get("heavy_s", 0.0)
    return torch.cat(totals)


@dataclass(frozen=True)
class Timing:
    wall_s: float
    cpu_s: float
    """This process's CPU time plus its children's (the pool's workers): on a shared machine
    the work done, which other jobs' load changes far less than the wall time."""


def timed(run: Callable[[], torch.Tensor]) -> tuple[Timing, torch.Tensor]:
    wall, cpu = time.perf_counter(), time.process_time() + children_cpu_s()
    result = run()
    cpu = time.process_time() + children_cpu_s() - cpu
    return Timing(time.perf_counter() - wall, cpu), result


def children_cpu_s() -> float:
    """CPU seconds used so far by this process's live child processes; NaN without /proc."""
    if not Path("/proc/self/stat").exists():
        return math.nan
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)"
        except OSError:
            continue  # it exited while we looked
        if int(fields[1]) == os.getpid():  # ppid; then utime and stime, in clock ticks
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def mismatches(a: torch.Tensor, b: torch.Tensor) -> list[int]:
    """Rows where the rewards differ; NaN (not computed) differs from everything."""
    return torch.nonzero(~(a == b)).flatten().tolist()


# ---------------------------------------------------------------- the report


@dataclass
class Measured:
    naive: list[Timing] = field(default_factory=list)
    compiled: list[Timing] = field(default_factory=list)
    start_s: float = 0.0
    """The warm-up batch: spawning the pool's workers, which import sympy (not in the medians)."""
    account: Counter = field(default_factory=Counter)
    """The scorer's counts and seconds in the pool, summed over the batches of the last repeat."""
    differ: set[int] = field(default_factory=set)
    """Rows where the two paths disagreed, in any repeat."""
    load_before: float = 0.0


def distinct_heavy_calls(rows: Rows, size: int) -> tuple[int, int]:
    """(math_equal calls the per-sample loop makes, distinct (final, answer) pairs per batch)."""
    calls = distinct = 0
    for responses, answers in in_batches(rows, size):
        pairs = [(final_answer(strip_think(r)), a) for r, a in zip(responses, answers, strict=True)]
        pairs = [p for p in pairs if p[0] is not None]
        calls, distinct = calls + len(pairs), distinct + len(set(pairs))
    return calls, distinct


def report(args: argparse.Namespace, rows: Rows, measured: Measured) -> None:
    console = Console(width=100)
    shape = "all distinct" if args.distinct else "GRPO repeats"
    table = Table(title=f"{len(rows.responses):,} rows ({shape}), batches of {args.batch}")
    for column in ("path", "median s", "median CPU s", "rows/s", "runs s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, runs in (("per-sample Python", measured.naive),
                       ("compiled rubric", measured.compiled)):
        median = statistics.median(t.wall_s for t in runs)
        cpu = statistics.median(t.cpu_s for t in runs)
        table.add_row(name, f"{median:.2f}", f"{cpu:.2f}", f"{len(rows.responses) / median:,.0f}",
                      " ".join(f"{t.wall_s:.2f}" for t in runs))
    console.print(table)
    calls, distinct = distinct_heavy_calls(rows, args.batch)
    account = measured.account
    console.print(f"machine: {platform.machine()}, {_cpus()} cores, python "
                  f"{platform.python_version()}, torch {torch.__version__}, load average "
                  f"{measured.load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    console.print(f"pool start (warm-up batch, not timed): {measured.start_s:.2f} s")
    console.print(f"math_equal calls: per-sample {calls:,}, compiled {account['heavy_calls']:,} "
                  f"(x{calls / max(account['heavy_calls'], 1):.2f} fewer); distinct pairs "
                  f"per batch: {distinct:,}")
    console.print(f"compiled, last repeat: {account['heavy_s']:.2f} s in the pool; built-in "
                  f"calls {account['computed']:,} computed, {account['deduped']:,} deduped")


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def check(rows: Rows, naive: torch.Tensor, compiled: torch.Tensor, differ: set[int]) -> int:
    """Both paths agree on every row, and with the reward the data was built to have."""
    expected = torch.tensor(rows.expected, dtype=torch.float32)
    wrong = mismatches(naive, expected)
    print(f"mismatches: compiled vs per-sample {len(differ)}, per-sample vs expected {len(wrong)}")
    for i in (sorted(differ) + wrong)[:5]:
        print(f"  row {i}: per-sample {naive[i].item()}, compiled {compiled[i].item()}, "
              f"expected {expected[i].item()}, answer {rows.answers[i]!r}, "
              f"response {rows.responses[i]!r}")
    assert not differ, f"the compiled rubric and the per-sample reward differ on {len(differ)} rows"
    return 1 if wrong else 0


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows to score (8 per prompt)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each path")
    parser.add_argument("--batch", type=int, default=1024, help="rows per scoring call")
    parser.add_argument("--distinct", action="store_true",
                        help="every response has its own final answer: nothing to dedupe")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated rows")
    args = parser.parse_args(argv)
    if min(args.rows, args.repeats, args.batch) < 1:
        parser.error("--rows, --repeats and --batch must be at least 1")
    return args


def start_pool(scorer) -> None:
    """Spawn and warm the scorer's pool workers with a call that needs them (plain numbers are
    decided in this process and would leave the pool unstarted, for the first timed run to pay)."""
    scorer.services().heavy("math_equal", (r"\sqrt{2}", "2^{1/2}"))


def bench(args: argparse.Namespace, scorer) -> int:
    measured = Measured(load_before=os.getloadavg()[0])  # other jobs on 2 cores slow the pool
    rows = make_rows(args.rows, args.distinct, args.seed)
    warmup = make_rows(2 * GROUP, args.distinct, args.seed + 1)
    measured.start_s = timed(lambda: (start_pool(scorer),
                                      run_compiled(scorer, warmup, args.batch, Counter())))[0].wall_s
    run_naive(warmup, args.batch)
    for repeat in range(args.repeats):  # interleaved, so that machine noise hits both paths
        timing, naive = timed(lambda: run_naive(rows, args.batch))
        measured.naive.append(timing)
        measured.account.clear()
        timing, compiled = timed(lambda: run_compiled(scorer, rows, args.batch, measured.account))
        measured.compiled.append(timing)
        measured.differ.update(mismatches(naive, compiled))
        print(f"repeat {repeat + 1}/{args.repeats}: per-sample {measured.naive[-1].wall_s:.2f} s, "
              f"compiled {timing.wall_s:.2f} s", file=sys.stderr, flush=True)
    report(args, rows, measured)
    status = check(rows, naive, compiled, measured.differ)
    speedup = (statistics.median(t.wall_s for t in measured.naive)
               / statistics.median(t.wall_s for t in measured.compiled))
    print(f"speedup: {speedup:.2f}x")
    return status


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scorer = pipeline.compile(RUBRIC)
    try:
        return bench(args, scorer)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        scorer.close()


if __name__ == "__main__":
    sys.exit(main())
