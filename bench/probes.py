"""Reward-hack probes: what they add to `rubricc check`, and batched against one response at a time.

    python bench/probes.py [--repeats 5]

Two measurements, medians over `--repeats` runs:

1. `rubricc check rubrics/` end to end (a fresh process each run: imports, the worker pool, every
   shipped rubric's lint, tests and probes), and the same with `--no-probes`.
2. Per shipped rubric, `run_probes` on its test rows, against the naive way: the same responses,
   each scored alone (`score_rows([row])`), as a loop over hack responses would. Both use one warm
   scorer and its pool; the rewards must agree (asserted).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rubricc.pipeline import compile
from rubricc.probes import PROBES, run_probes
from rubricc.probes.context import MARK, make_context, reference_column, shell_candidates
from rubricc.probes.runner import _applies, rows_from_tests

ROOT = Path(__file__).resolve().parents[1]
RUBRICS = sorted((ROOT / "rubrics").rglob("*.rubric"))


def check_seconds(*flags: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "rubricc.cli", "check", str(ROOT / "rubrics"), *flags],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"rubricc check failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def naive_responses(scorer, rows) -> list[dict]:
    """Every row the batched run scores, as separate rows: the format candidates, then each
    applicable probe's responses (code probes on their rows, as the runner gives them)."""
    column = reference_column(scorer.checked)
    samples = [(str(r.get("response") or ""), str(r.get(column) or "")) for r in rows] if column else []
    out = []
    for row in rows:
        ctx = make_context(scorer.checked, row, column)
        for shell in shell_candidates(ctx, samples):
            out += [ctx.columns | {"response": shell.replace(MARK, value)} for value in (ctx.right, ctx.wrong)]
        for p in PROBES:
            if not p.needs_judge and _applies(p, ctx, ctx.function is not None):
                out += [ctx.columns | {"response": text} for text in dict.fromkeys(p.responses(ctx))]
    return out


def time_rubric(path: Path, repeats: int) -> tuple[int, float, float]:
    scorer = compile(path)
    try:
        rows = rows_from_tests(scorer)
        run_probes(scorer, rows)  # warm the pool and the caches of compiled regexes
        batched = statistics.median(_timed(lambda: run_probes(scorer, rows)) for _ in range(repeats))
        singles = naive_responses(scorer, rows)
        reference = scorer.score_rows(singles).rows
        naive_runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            alone = [scorer.score_rows([row]).rows[0] for row in singles]
            naive_runs.append(time.perf_counter() - started)
            assert [r.total for r in alone] == [r.total for r in reference]
        return len(singles), batched, statistics.median(naive_runs)
    finally:
        scorer.close()


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    console = Console()
    console.print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                  f"load {os.getloadavg()[0]:.2f}, Python {platform.python_version()}")

    with_probes = [check_seconds() for _ in range(args.repeats)]
    without = [check_seconds("--no-probes") for _ in range(args.repeats)]
    table = Table(title=f"rubricc check rubrics/ (median of {args.repeats})")
    for col in ("run", "median s", "min s", "max s"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for name, runs in (("with probes", with_probes), ("--no-probes", without)):
        table.add_row(name, f"{statistics.median(runs):.2f}", f"{min(runs):.2f}", f"{max(runs):.2f}")
    console.print(table)

    table = Table(title=f"probes per rubric: batched vs one response at a time (median of {args.repeats})")
    for col in ("rubric", "responses", "batched s", "one at a time s", "speedup"):
        table.add_column(col, justify="left" if col == "rubric" else "right")
    for path in RUBRICS:
        n, batched, naive = time_rubric(path, args.repeats)
        table.add_row(str(path.relative_to(ROOT)), str(n), f"{batched:.3f}", f"{naive:.3f}",
                      f"{naive / batched:.2f}x")
    console.print(table)
    console.print(f"probes add {statistics.median(with_probes) - statistics.median(without):.2f} s "
                  f"to check (median {statistics.median(with_probes):.2f} s with them)")


if __name__ == "__main__":
    main()
