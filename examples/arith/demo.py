"""Offline RLVR in one command: a tiny model learns to add, first by imitation, then by GRPO
against `rubrics/arith/answer.rubric`.

    python examples/arith/demo.py                # 3.5 minutes on 2 CPU cores (README: Train)
    python examples/arith/demo.py --build-only   # then: rubricc train examples/arith/grpo.toml

1. data     train, validation and held-out sums, no prompt in common   (problems.py)
2. model    a tiny byte-level Qwen2 built locally, random weights      (trainer/tiny.py)
3. warm-up  supervised, stopped at 10% validation accuracy: weak start (warmup.py)
4. before   greedy held-out accuracy, scored by the rubric             (accuracy.py)
5. GRPO     `rubricc.trainer.grpo.train` with `grpo.toml`'s settings (a checkpoint every 50 steps)
6. after    the same held-out accuracy at every checkpoint; OUT/demo.png plots it beside the
            training reward, and OUT/grpo/rewards.png has each rubric item's curve

Everything is seeded; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))  # the sibling modules, when run as a script

from accuracy import accuracy  # noqa: E402
from problems import splits, write_jsonl  # noqa: E402
from rubricc.trainer.config import TrainConfig  # noqa: E402
from rubricc.trainer.tiny import build_tiny_lm  # noqa: E402
from warmup import warm_up  # noqa: E402

import rubricc  # noqa: E402

CONFIG = HERE / "grpo.toml"
RUBRIC = ROOT / "rubrics" / "arith" / "answer.rubric"

# The model and its warm-up: sized so that 2 CPU cores finish the whole demo in minutes.
MODEL = {"arch": "qwen2", "hidden": 96, "layers": 2, "heads": 4, "kv_heads": 2, "max_positions": 64}
TRAIN_PROBLEMS, VALIDATION, HELD_OUT = 20_000, 300, 500
WARMUP = {"max_steps": 3000, "batch_size": 64, "learning_rate": 3e-3}
WEAK = 0.10  # stop the warm-up once this fraction of the validation problems is right


class WeakStart:
    """Stops the warm-up at the first check where validation accuracy reaches `target`.

    The accuracy of a model this small stays near 0 for hundreds of steps, then climbs by tens of
    points in a hundred: a fixed step count would land anywhere on that climb on another machine
    or seed, so the warm-up stops on a measured accuracy instead. Checked every 25 steps, and
    every 5 once it passes a third of the target. The held-out set is never looked at here.
    """

    def __init__(self, tokenizer, rows: list[dict], scorer, target: float):
        self.tokenizer, self.rows, self.scorer, self.target = tokenizer, rows, scorer, target
        self.accuracy = 0.0

    def __call__(self, model, step: int) -> bool:
        if step % 25 and self.accuracy < self.target / 3:
            return False
        self.accuracy = accuracy(model, self.tokenizer, self.rows, self.scorer)
        return self.accuracy >= self.target


def build(out: Path, seed: int, scorer) -> tuple[list[dict], Path]:
    """Steps 1-3: the data files and the warmed-up model in `out`; returns the held-out rows."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    train_rows, validation, held_out = splits(TRAIN_PROBLEMS, VALIDATION, HELD_OUT, seed=seed)
    write_jsonl([{"prompt": r["prompt"], "answer": r["answer"]} for r in train_rows],
                out / "train.jsonl")
    write_jsonl(held_out, out / "held_out.jsonl")
    initial = build_tiny_lm(out / "initial", seed=seed, **MODEL)
    model = AutoModelForCausalLM.from_pretrained(initial)
    tokenizer = AutoTokenizer.from_pretrained(initial)
    weak = WeakStart(tokenizer, validation, scorer, WEAK)
    losses = warm_up(model, tokenizer, train_rows, stop=weak, seed=seed, **WARMUP)
    print(f"warm-up: {len(losses)} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}, "
          f"validation accuracy {weak.accuracy:.1%}")
    if weak.accuracy < WEAK:
        print(f"warning: the warm-up stopped at its {WARMUP['max_steps']} steps short of "
              f"{WEAK:.0%}; GRPO will start from a model that rarely gets a sum right, and a "
              f"0/1 reward gives it little to learn from (try another --seed)")
    model.save_pretrained(out / "warm")
    tokenizer.save_pretrained(out / "warm")
    return held_out, out / "warm"


def config_for(out: Path, seed: int, steps: int | None) -> TrainConfig:
    """`grpo.toml`'s settings, pointed at the files this run built."""
    config = TrainConfig.from_toml(CONFIG)
    update = {"model": str(out / "warm"), "data": str(out / "train.jsonl"),
              "output_dir": str(out / "grpo"), "rubric": str(RUBRIC), "seed": seed}
    if steps is not None:
        update["steps"] = steps
    return config.model_copy(update=update)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "out" / "arith", help="where everything goes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="GRPO steps (default: grpo.toml's)")
    p.add_argument("--build-only", action="store_true", help="stop after the warm-up")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # a model this small runs fastest on one thread per process
    started = time.perf_counter()

    from rubricc.trainer.grpo import train
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()  # no bar for each save and load of a 90k-parameter model

    scorer = rubricc.compile(RUBRIC)
    try:
        held_out, warm = build(args.out, args.seed, scorer)
        model = AutoModelForCausalLM.from_pretrained(warm)
        tokenizer = AutoTokenizer.from_pretrained(warm)
        before = accuracy(model, tokenizer, held_out, scorer)
        print(f"held-out accuracy after the warm-up: {before:.1%} of {len(held_out)}")
        if args.build_only:
            return 0
        result = train(config_for(args.out, args.seed, args.steps))
        curve = [(0, before)] + checkpoint_accuracy(args.out / "grpo", tokenizer, held_out, scorer)
    finally:
        scorer.close()
    after = curve[-1][1]
    seconds = time.perf_counter() - started
    figure = plot(curve, result.history, args.out / "demo.png")
    summary = {"held_out": len(held_out), "before": before, "after": after,
               "ratio": after / before if before else None, "grpo_steps": len(result.history),
               "accuracy_by_step": dict(curve), "seconds": round(seconds, 1),
               "plot": str(figure), "reward_plot": str(result.plot_path)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    ratio = f"{after / before:.2f}x" if before else "from 0"
    print("held-out accuracy by GRPO step: "
          + ", ".join(f"{step}: {acc:.1%}" for step, acc in curve))
    print(f"held-out accuracy: {before:.1%} -> {after:.1%} ({ratio}) in {seconds:.0f} s; "
          f"plot: {figure}")
    return 0


def checkpoint_accuracy(run: Path, tokenizer, held_out: list[dict], scorer) -> list[tuple]:
    """(step, held-out accuracy) of every checkpoint the GRPO run wrote, oldest first."""
    from rubricc.trainer import checkpoint
    from transformers import AutoModelForCausalLM

    steps = sorted(int(p.name.removeprefix(checkpoint.PREFIX))
                   for p in checkpoint.folder(run).glob(f"{checkpoint.PREFIX}*"))
    return [(step, accuracy(AutoModelForCausalLM.from_pretrained(
                 checkpoint.path(run, step) / "model"), tokenizer, held_out, scorer))
            for step in steps]


def plot(curve: list[tuple], history: list[dict], path: Path) -> Path:
    """Held-out accuracy by GRPO step beside the training reward (each step faint, a moving
    average on top)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rubricc.trainer.metrics import draw_curve

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps, accs = zip(*curve)
    left.plot(steps, [100 * a for a in accs], marker="o")
    for step, acc in (curve[0], curve[-1]):
        left.annotate(f"{acc:.1%}", (step, 100 * acc), textcoords="offset points", xytext=(0, 8),
                      ha="center")
    left.axhline(200 * accs[0], color="grey", linestyle=":", label="2x the start")
    left.set(title=f"held-out accuracy ({curve[-1][0]} GRPO steps)",
             xlabel="GRPO step", ylabel="% of held-out sums right (greedy)")
    left.set_ylim(0, 120 * max(accs))  # room for the labels
    left.legend(fontsize="small")
    rewards = [(r["step"], r["reward/mean"]) for r in history if r.get("reward/mean") is not None]
    draw_curve(right, [s for s, _ in rewards], [v for _, v in rewards])
    right.set(title="training reward (sampled, temperature 1)", xlabel="GRPO step",
              ylabel="mean reward")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
