"""A rubric of K `judge` items over B responses, scored end to end: one judge plan per batch,
packed, against one request per criterion, and against asking item by item.

    python bench/judge_rubric.py [--responses 8] [--k 10] [--repeats 3] [--threads 1]

All three go through `rubricc.compile(RUBRIC).score(...)` on the same tiny random Llama as
bench/judge_packing.py (hidden 256, 4 layers, CPU, float32, sdpa, a BPE of about a token per
word), with responses of 200-400 tokens:

- **planned, packed**: the scorer's one judge plan per batch sends every item's requests in one
  call, and the backend packs the K criteria about one response into one sequence;
- **one request per criterion**: the same plan, with `HFJudge(packed=False)`;
- **item by item**: the plan turned off (the engine before it), so each item's call packs one
  criterion per response.

The time is the batch's `judge_s` (the judge calls, rendering and tokenizing included), median of
`--repeats`, the three interleaved. Values must agree within 1e-4 (else exit status 1). The last
lines are `items speedup: X.XXx` (one request per criterion over planned, packed) and
`group speedup:` (sharing the prompt across a GRPO group's responses; not built yet).
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import tempfile

import torch
from judge_packing import CRITERIA, QUESTIONS, SENTENCES, parse_args, tiny_judges
from rich.console import Console
from rich.table import Table

import rubricc
from rubricc.scorer import Scorer

TOLERANCE = 1e-4


def rubric_text(k: int) -> str:
    judges = "\n".join(f'    judge c{j}: "{text}"' for j, text in enumerate(CRITERIA[:k]))
    return f"rubric many_judges {{\n{judges}\n    score = mean(judges)\n}}\n"


def responses(tokenizer, count: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, prompts = [], []
    for _ in range(count):
        text, length = "", rng.randint(200, 400)
        while len(tokenizer(text).input_ids) < length:
            text += rng.choice(SENTENCES) + " "
        texts.append(text.strip())
        prompts.append(rng.choice(QUESTIONS))
    return texts, prompts


def timed(scorer: Scorer, judge, texts, prompts, planned: bool):
    scorer_type = type(scorer)
    original = scorer_type.judged
    if not planned:
        scorer_type.judged = property(lambda self: False)
    try:
        batch = scorer.score(prompts=prompts, responses=texts, judge=judge)
    finally:
        scorer_type.judged = original
    return batch.timings.get("judge_s", 0.0), batch.values


def main() -> int:
    argv = sys.argv[1:]
    args = parse_args(argv if any(a.startswith("--k") for a in argv) else [*argv, "--k", "10"])
    k = int(args.k)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        packed, unpacked = tiny_judges(folder, args)
    texts, prompts = responses(packed.tokenizer, args.responses, args.seed)
    scorer = rubricc.compile(rubric_text(k))
    sides = {"planned, packed": (packed, True), "one request per criterion": (unpacked, True),
             "item by item": (packed, False)}
    times: dict[str, list[float]] = {name: [] for name in sides}
    values = {}
    try:
        for _ in range(args.repeats):
            for name, (judge, planned) in sides.items():
                seconds, values[name] = timed(scorer, judge, texts, prompts, planned)
                times[name].append(seconds)
    finally:
        scorer.close()
    base = values["planned, packed"]
    worst = max((values[name] - base).abs().max().item() for name in sides)
    median = {name: statistics.median(runs) for name, runs in times.items()}
    console = Console()
    console.print(f"{platform.machine()}, {os.cpu_count()} cores, load {load_before:.2f} before, "
                  f"torch {torch.__version__}, {args.threads} thread(s); {args.responses} responses, "
                  f"{k} judge items")
    table = Table(title=f"judge time of one score() call, median of {args.repeats}")
    for col in ("path", "judge s", "vs planned, packed"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for name in sides:
        table.add_row(name, f"{median[name]:.3f}", f"{median[name] / median['planned, packed']:.2f}x")
    console.print(table)
    print(f"max difference between the paths' values: {worst:.2e}")
    print(f"items speedup: {median['one request per criterion'] / median['planned, packed']:.2f}x")
    print("group speedup: not built (sharing a prompt's prefix across its responses is future work)")
    return 0 if worst < TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
