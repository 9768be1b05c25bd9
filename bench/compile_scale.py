"""Compile time of generated rubrics with many items: median seconds per size.

    python bench/compile_scale.py 1000 2000 10000

Each rubric has a gate and, per item, a `let` and a check that reads it behind the gate through
an `and` (a branch with rows of its own), so plan_gates moves work across many regions.
"""

from __future__ import annotations

import statistics
import sys
import time

from rubricc.pipeline import build, front


def rubric_text(items: int) -> str:
    lines = ["rubric many {", '    gate formatted: contains(response, "x")']
    for i in range(items):
        lines.append(f'    let w{i} = words(response) + {i}')
        lines.append(f'    check c{i}: w{i} > {i % 7} and contains(response, "k{i}")')
    lines.append("}")
    return "\n".join(lines) + "\n"


def compile_seconds(text: str) -> float:
    start = time.perf_counter()
    [checked] = front(text, "many.rubric").rubrics
    build(checked)
    return time.perf_counter() - start


def main(sizes: list[int], runs: int = 3) -> None:
    """Prints one line per size; a size slower than a minute is run once."""
    for size in sizes:
        text = rubric_text(size)
        times = [compile_seconds(text)]
        while len(times) < runs and times[0] < 60:
            times.append(compile_seconds(text))
        print(f"{size:>6} items  median {statistics.median(times):8.2f} s  (runs: "
              + ", ".join(f"{t:.2f}" for t in times) + ")", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 2000, 10000])
