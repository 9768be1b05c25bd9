"""Judge packing: K criteria per response in one packed sequence, against one sequence each.

    python bench/judge_packing.py [--responses 8] [--k 1,4,10,20] [--repeats 5] [--threads 1]
                                  [--tokenizer words|bytes]

Both sides are `rubricc.backends.hf.HFJudge` on the same model, the same requests and the same
token budget per forward pass (`--batch-tokens`): `packed=True` puts the K criteria about one
response after one shared copy of the prompt and response; `packed=False` sends each criterion
with its own copy, the rows batched the same way. The two must give the same verdicts (max
difference < 1e-4, else exit status 1). The model is a tiny random Llama built on the spot by
`rubricc.trainer.tiny` (hidden 256, 4 layers), on CPU, float32, sdpa; its tokenizer is a BPE
trained on this script's text (about a token per word), or `tiny.py`'s one token per byte.
Responses are 200-400 tokens. The script prints, per K, the median time of each side over
`--repeats` (interleaved), for the whole `judge` call and for its forward passes alone, their
ratios, and the tokens each side ran through the model. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field

import torch
import transformers
from rich.console import Console
from rich.table import Table
from rubricc.trainer.tiny import CHAT_TEMPLATE, SPECIALS, build_tiny_lm

from rubricc.backends.hf import HFJudge
from rubricc.judges import DEFAULT_TEMPLATE, JudgeRequest

TOLERANCE = 1e-4
QUESTIONS = [
    "How should I store fresh herbs so they last longer?",
    "What is the difference between a virus and a bacterium?",
    "Explain how compound interest works with an example.",
    "My laptop fan is loud all the time. What can I do?",
]
SENTENCES = [
    "Wrap the stems in a damp paper towel and keep them in the fridge.",
    "Soft herbs such as basil prefer a glass of water on the counter.",
    "A virus needs a host cell to copy itself, while a bacterium is a living cell of its own.",
    "Antibiotics act on bacteria and do nothing against a viral infection.",
    "Interest is added to the balance, and the next period's interest is paid on that sum.",
    "At 5% a year, 1000 becomes 1050 after one year and 1102.50 after two.",
    "Dust in the vents makes the fan work harder, so clean them with compressed air.",
    "Check which programs use the processor: a busy background task keeps the fan spinning.",
    "In short, the answer depends on the details, but these steps cover most cases.",
    "If the problem persists, a technician can replace the thermal paste.",
]
CRITERIA = [
    "Answers the question that was asked.", "Is factually accurate.", "Gives a concrete example.",
    "Is polite.", "Avoids jargon or explains it.", "Mentions safety where relevant.",
    "Is under 150 words.", "Uses no bullet points.", "Does not invent statistics.",
    "Recommends seeing a professional when needed.", "Stays on topic.", "Uses complete sentences.",
    "Explains the reasoning behind each step.", "Does not repeat itself.",
    "Ends with a short summary.", "Does not address the grader.", "Uses plain English.",
    "Gives numbers with units.", "Mentions at least two options.", "Is written in the second person.",
]


def make_requests(tokenizer, responses: int, k: int, seed: int) -> list[JudgeRequest]:
    """`responses` responses of 200-400 tokens, K criteria each."""
    rng = random.Random(seed)
    requests = []
    for _ in range(responses):
        text, length = "", rng.randint(200, 400)
        while len(tokenizer(text).input_ids) < length:
            text += rng.choice(SENTENCES) + " "
        question = rng.choice(QUESTIONS)
        requests += [JudgeRequest(f"c{j}", c, question, text.strip())
                     for j, c in enumerate(rng.sample(CRITERIA, k))]
    return requests


def word_tokenizer(vocab_size: int = 4096):
    """Byte-level BPE trained on this script's text: about a token per word, as in the
    tokenizers of real judge models (a byte per token would make every prompt 4x longer)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(QUESTIONS + SENTENCES + CRITERIA + [DEFAULT_TEMPLATE, CHAT_TEMPLATE],
                             trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>",
                                  eos_token="</s>", unk_token="<unk>")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_judges(folder: str, args) -> tuple[HFJudge, HFJudge]:
    """The packed and the unpacked judge over one tiny random Llama. The packed one packs the
    criteria of each response and no more: responses that answer one question do not share it
    (`share_prefix=False`; bench/judge_rubric.py measures that)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = build_tiny_lm(folder, arch="llama", hidden=args.hidden, layers=args.layers, heads=4,
                         kv_heads=2, max_positions=4096, seed=args.seed)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa")
    if args.tokenizer == "words":
        tokenizer = word_tokenizer()
        model.resize_token_embeddings(len(tokenizer))
    else:
        tokenizer = AutoTokenizer.from_pretrained(path)
    return tuple(HFJudge(model, tokenizer, batch_tokens=args.batch_tokens, packed=packed,
                         share_prefix=False) for packed in (True, False))


@dataclass
class Side:
    """One path's runs: the whole `judge` call, and the part spent in forward passes (masks
    included); rendering and tokenizing the prompts is the rest, the same on both sides."""

    wall_s: list[float] = field(default_factory=list)
    model_s: list[float] = field(default_factory=list)
    tokens: int = 0
    forwards: int = 0

    def run(self, judge: HFJudge, requests: list[JudgeRequest]) -> list[float]:
        judge.account.clear()
        started = time.perf_counter()
        verdicts = judge.judge(requests)
        self.wall_s.append(time.perf_counter() - started)
        self.model_s.append(judge.account["forward_s"])
        self.tokens, self.forwards = judge.account["tokens"], judge.account["forwards"]
        return verdicts


@dataclass
class Measured:
    k: int
    packed: Side = field(default_factory=Side)
    unpacked: Side = field(default_factory=Side)
    max_difference: float = 0.0


def measure(packed: HFJudge, unpacked: HFJudge, k: int, args) -> Measured:
    """Interleaved repeats, after a warm-up of each side on two responses."""
    requests = make_requests(packed.tokenizer, args.responses, k, args.seed)
    measured = Measured(k)
    packed.judge(requests[: 2 * k]), unpacked.judge(requests[: 2 * k])
    for _ in range(args.repeats):
        fast = measured.packed.run(packed, requests)
        slow = measured.unpacked.run(unpacked, requests)
        diff = max(abs(a - b) for a, b in zip(fast, slow, strict=True))
        measured.max_difference = max(measured.max_difference, diff)
    return measured


def report(args, results: list[Measured], load_before: float, prompt_tokens: str) -> None:
    console = Console(width=140)
    table = Table(title=f"{args.responses} responses x K criteria, CPU, {args.threads} thread(s), "
                        f"batches of at most {args.batch_tokens} tokens; median s of "
                        f"{args.repeats} runs")
    for column in ("K", "packed s", "unpacked s", "speedup", "model s packed",
                   "model s unpacked", "model speedup", "tokens packed", "tokens unpacked",
                   "token ratio", "forwards", "max diff"):
        table.add_column(column, justify="right")
    for m in results:
        fast, slow = statistics.median(m.packed.wall_s), statistics.median(m.unpacked.wall_s)
        fast_model = statistics.median(m.packed.model_s)
        slow_model = statistics.median(m.unpacked.model_s)
        table.add_row(str(m.k), f"{fast:.2f}", f"{slow:.2f}", f"{slow / fast:.2f}x",
                      f"{fast_model:.2f}", f"{slow_model:.2f}", f"{slow_model / fast_model:.2f}x",
                      f"{m.packed.tokens:,}", f"{m.unpacked.tokens:,}",
                      f"{m.unpacked.tokens / m.packed.tokens:.2f}x",
                      f"{m.packed.forwards} / {m.unpacked.forwards}", f"{m.max_difference:.1e}")
    console.print(table)
    console.print(f"prompt tokens per request (min/median/max): {prompt_tokens}")
    console.print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, python "
                  f"{platform.python_version()}, torch {torch.__version__}, transformers "
                  f"{transformers.__version__}, load average {load_before:.1f} before, "
                  f"{os.getloadavg()[0]:.1f} after")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=8, help="responses (B)")
    parser.add_argument("--k", default="1,4,10,20", help="criteria per response, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--tokenizer", choices=("words", "bytes"), default="words",
                        help="BPE trained on the bench's text, or tiny.py's one token per byte")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        judges = tiny_judges(folder, args)
    ks = [int(k) for k in args.k.split(",")]
    requests = make_requests(judges[0].tokenizer, args.responses, max(ks), args.seed)
    lengths = sorted(map(len, judges[0].tokenize(requests)))
    prompt_tokens = f"{lengths[0]} / {lengths[len(lengths) // 2]} / {lengths[-1]}"
    results = [measure(*judges, k, args) for k in ks]
    report(args, results, load_before, prompt_tokens)
    worst = max(m.max_difference for m in results)
    print(f"max difference packed vs unpacked: {worst:.2e}")
    return 0 if worst < TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
