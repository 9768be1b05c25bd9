"""A rubric of K `judge` items over B responses, scored end to end: one judge plan per batch,
packed, against one request per criterion, and against asking item by item; then GRPO groups,
G responses to each long prompt, with the prompt computed once per group against once per
response.

    python bench/judge_rubric.py [--responses 8] [--k 10] [--repeats 3] [--threads 1]

Everything goes through `rubricc.compile(RUBRIC).score(...)` on the same tiny random Llama as
bench/judge_packing.py (hidden 256, 4 layers, CPU, float32, sdpa, a BPE of about a token per
word), with responses of 200-400 tokens. The items scenario (`--responses` responses, each to
one of four short questions) compares three paths:

- **planned, packed**: the scorer's one judge plan per batch sends every item's requests in one
  call, and the backend packs the K criteria about one response into one sequence;
- **one request per criterion**: the same plan, with `HFJudge(packed=False)`;
- **item by item**: the plan turned off (the engine before it), so each item's call packs one
  criterion per response.

The paths there pack without sharing a question across responses (`share_prefix=False`). The
group scenario is `GROUPS` prompts (notes made of judge_packing.py's SENTENCES, then one of its
QUESTIONS) with `GROUP` responses each, run at each length of `PROMPT_TOKENS` (300-400 tokens,
then 600-700), scored by the planned, packed judge with and without sharing:

- **group prefix shared**: `HFJudge(share_prefix=True)` runs the tokens that a group's packs
  share (chat template head, judge template head, the prompt) once, and the packs' remaining
  tokens (response, criteria) over its KV cache;
- **per-response packs**: `HFJudge(share_prefix=False)`, every pack with its own copy of the
  prompt.

The time is the batch's `judge_s` (the judge calls, rendering and tokenizing included), median of
`--repeats`, the paths of a scenario interleaved. Values must agree within 1e-4 (else exit status
1). The last lines are `items speedup: X.XXx` (one request per criterion over planned, packed)
and the group speedups (per-response packs over group prefix shared), the last one
`group speedup: X.XXx`, for the longest prompts. The group speedup is bounded by the share of
the tokens the prompt makes: with responses of 200-400 tokens and 10 criteria of about 30 tokens
each, prompts of 300-400 tokens are about 40% of a pack.
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
from rubricc.backends.hf import HFJudge
from rubricc.scorer import Scorer

TOLERANCE = 1e-4
GROUP, GROUPS = 8, 2  # responses per prompt, prompts: a GRPO batch of 16
PROMPT_TOKENS = ((300, 400), (600, 700))  # the group scenario at each prompt length


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


def long_prompts(tokenizer, count: int, tokens: tuple[int, int], seed: int) -> list[str]:
    """`count` prompts of `tokens` (low, high) tokens: notes to read, then a question."""
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        notes, length = "", rng.randint(*tokens)
        question = rng.choice(QUESTIONS)
        while len(tokenizer(f"My notes:\n{notes}\n\n{question}").input_ids) < length:
            notes += rng.choice(SENTENCES) + " "
        prompts.append(f"My notes:\n{notes.strip()}\n\n{question}")
    return prompts


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


def compare(scorer: Scorer, sides: dict, texts, prompts, repeats: int):
    """Each side's median `judge_s`, the judge's account of its last run, and the largest
    difference of any side's values from the first side's."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    values, accounts = {}, {}
    for _ in range(repeats):
        for name, (judge, planned) in sides.items():
            judge.account.clear()
            seconds, values[name] = timed(scorer, judge, texts, prompts, planned)
            times[name].append(seconds)
            accounts[name] = dict(judge.account)
    base = values[next(iter(sides))]
    worst = max((values[name] - base).abs().max().item() for name in sides)
    return {name: statistics.median(runs) for name, runs in times.items()}, accounts, worst


def show(console: Console, title: str, median: dict, accounts: dict) -> None:
    """The sides' times, each against the first side's, and what their passes cost."""
    base = next(iter(median))
    table = Table(title=title)
    for col in ("path", "judge s", f"vs {base}", "forwards", "tokens", "padded tokens"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for name, seconds in median.items():
        account = accounts[name]
        table.add_row(name, f"{seconds:.3f}", f"{seconds / median[base]:.2f}x",
                      str(account["forwards"]), f"{account['tokens']:,}",
                      f"{account['padded_tokens']:,}")
    console.print(table)


def main() -> int:
    argv = sys.argv[1:]
    args = parse_args(argv if any(a.startswith("--k") for a in argv) else [*argv, "--k", "10"])
    k = int(args.k)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        packed, unpacked = tiny_judges(folder, args)
    shared = HFJudge(packed.model, packed.tokenizer, batch_tokens=args.batch_tokens,
                     share_prefix=True)
    texts, prompts = responses(packed.tokenizer, args.responses, args.seed)
    group_texts, _ = responses(packed.tokenizer, GROUP * GROUPS, args.seed + 1)
    scorer = rubricc.compile(rubric_text(k))
    items = {"planned, packed": (packed, True), "one request per criterion": (unpacked, True),
             "item by item": (packed, False)}
    groups = {"group prefix shared": (shared, True), "per-response packs": (packed, True)}
    console = Console(width=120)
    console.print(f"{platform.machine()}, {os.cpu_count()} cores, load {load_before:.2f} before, "
                  f"torch {torch.__version__}, {args.threads} thread(s); {k} judge items")
    group_speedups, worst = [], []
    try:
        median, accounts, difference = compare(scorer, items, texts, prompts, args.repeats)
        show(console, f"items: {args.responses} responses; judge time of one score() call, "
                      f"median of {args.repeats}", median, accounts)
        items_speedup = median["one request per criterion"] / median["planned, packed"]
        worst.append(difference)
        for tokens in PROMPT_TOKENS:
            group_prompts = long_prompts(packed.tokenizer, GROUPS, tokens, args.seed)
            lengths = [len(packed.tokenizer(p).input_ids) for p in group_prompts]
            median, accounts, difference = compare(
                scorer, groups, group_texts, [p for p in group_prompts for _ in range(GROUP)],
                args.repeats)
            show(console, f"groups: {GROUPS} prompts ({', '.join(map(str, lengths))} tokens) x "
                          f"{GROUP} responses; judge time of one score() call, median of "
                          f"{args.repeats}", median, accounts)
            group_speedups.append(median["per-response packs"] / median["group prefix shared"])
            worst.append(difference)
    finally:
        scorer.close()
    print(f"max difference between the paths' values: {max(worst):.2e}")
    print(f"items speedup: {items_speedup:.2f}x")
    for (low, high), speedup in zip(PROMPT_TOKENS[:-1], group_speedups):
        print(f"group speedup, prompts of {low}-{high} tokens: {speedup:.2f}x")
    low, high = PROMPT_TOKENS[-1]
    print(f"group speedup: {group_speedups[-1]:.2f}x (prompts of {low}-{high} tokens)")
    return 0 if max(worst) < TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
