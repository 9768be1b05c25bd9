"""Embedding similarity: one batched call per scoring batch against one model call per row.

    python bench/embedding.py [--rows 512] [--repeats 3] [--device cpu] [--threads N]

Both sides compute `embedding_similarity(response, reference)` for the same rows. The per-row
side is the reward a TRL user writes (and what the interpreter does): a loop that runs the model
on each (response, reference) pair. The compiled side is `Scorer.score(..., device=)`: the `call`
kernel gathers the batch's distinct pairs and the built-in embeds each distinct text once, 64
texts per forward pass. The rows are GRPO-shaped: 8 responses per prompt, all different, sharing
the prompt's reference. Both sides must agree within 1e-5 on every row (asserted); the script
prints median times over `--repeats` (interleaved) and a last line `speedup: X.XXx`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time

import torch

import rubricc
from rubricc.builtins import REGISTRY

GROUP = 8  # responses per prompt, as in GRPO
RUBRIC = """
rubric close {
    input reference: text
    check similar: embedding_similarity(response, reference)
}
"""
similarity = REGISTRY["embedding_similarity"].fn

SUBJECTS = ["the bridge", "the recipe", "the treaty", "the algorithm", "the enzyme", "the river",
            "the election", "the telescope", "the novel", "the vaccine", "the market", "the glacier"]
VERBS = ["changed", "explained", "measured", "slowed", "improved", "described", "replaced",
         "protected", "reduced", "revealed"]
OBJECTS = ["the water supply", "local prices", "its own error", "the early results", "the old design",
           "the northern coast", "every later study", "the patient's fever", "the main argument"]
FILLERS = ["In short,", "First,", "Moreover,", "However,", "As a result,", "Finally,", "So"]


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(FILLERS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}."


def make_rows(count: int, seed: int) -> tuple[list[str], list[str]]:
    """(responses, references): per prompt one reference and 8 different 2-6 sentence answers."""
    rng, responses, references = random.Random(seed), [], []
    while len(responses) < count:
        reference = " ".join(sentence(rng) for _ in range(3))
        for _ in range(GROUP):
            responses.append(" ".join(sentence(rng) for _ in range(rng.randint(2, 6))))
            references.append(reference)
    return responses[:count], references[:count]


def per_row(responses: list[str], references: list[str], device: str) -> list[float]:
    return [similarity([r], [g], device=device)[0] for r, g in zip(responses, references, strict=True)]


def compiled(scorer, responses: list[str], references: list[str], device: str) -> list[float]:
    return scorer.score(responses=responses, reference=references, device=device).total.tolist()


def timed(run) -> tuple[float, list[float]]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=512, help="rows in the batch (8 per prompt)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side")
    parser.add_argument("--device", default="cpu", help="where the model runs")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated rows")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    responses, references = make_rows(args.rows, args.seed)
    scorer = rubricc.compile(RUBRIC)
    load_before = os.getloadavg()[0]
    try:
        similarity(["warm"], ["up"], device=args.device)  # loads the model: not timed
        naive, batched = [], []
        for repeat in range(args.repeats):  # interleaved, so that machine noise hits both sides
            seconds, slow = timed(lambda: per_row(responses, references, args.device))
            naive.append(seconds)
            seconds, fast = timed(lambda: compiled(scorer, responses, references, args.device))
            batched.append(seconds)
            print(f"repeat {repeat + 1}/{args.repeats}: per-row {naive[-1]:.2f} s, "
                  f"batched {batched[-1]:.2f} s", file=sys.stderr, flush=True)
    finally:
        scorer.close()
    differ = max(abs(a - b) for a, b in zip(slow, fast, strict=True))
    assert differ <= 1e-5, f"the two sides differ by {differ}"
    texts = len(set(responses) | set(references))
    print(f"{args.rows} rows, {len(set(references))} prompts, {texts} distinct texts; "
          f"device {args.device}, {torch.get_num_threads()} torch threads")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, torch {torch.__version__}, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    for name, runs in (("per-row calls", naive), ("batched call", batched)):
        median = statistics.median(runs)
        print(f"{name}: median {median:.2f} s, {args.rows / median:,.0f} rows/s, runs "
              + " ".join(f"{s:.2f}" for s in runs))
    print(f"largest difference: {differ:.1e}")
    print(f"speedup: {statistics.median(naive) / statistics.median(batched):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
