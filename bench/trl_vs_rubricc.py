"""GRPO steps: TRL's `GRPOTrainer` against rubricc's trainer, the same run on both.

    python bench/trl_vs_rubricc.py [--steps 30] [--seed 0] [--model DIR --data FILE]

Both train the same warmed-up tiny model (the arithmetic demo's: `examples/arith/demo.py` builds
it, or pass `--model` and `--data` from an earlier `demo.py --build-only`) on the same prompts
against `rubrics/arith/answer.rubric`, with the demo's settings (`examples/arith/grpo.toml`):
16 prompts x 8 completions per step, at most 24 new tokens, temperature 1, learning rate 3e-4
on a cosine schedule over the run's steps, gradient clipping at 1, the "dapo" loss,
group-scaled advantages, no KL, one update per batch, float32, one CPU thread, no activation
checkpointing (TRL's default turns it on; `--trl-checkpointing` keeps it).
TRL gets the rubric through `rubricc.trainer.trl_adapter` (one reward function per item, weight
0, and the score, weight 1), the way a TRL user would plug rubricc in.

It prints the median seconds per step (the first step, which warms caches, left out), the mean
reward over the first and the last 20 steps, the seconds spent scoring, and last
`ratio: X.XXx` (TRL's median seconds per step over rubricc's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

import rubricc

ROOT = Path(__file__).resolve().parents[1]
ARITH = ROOT / "examples" / "arith"
RUBRIC = ROOT / "rubrics" / "arith" / "answer.rubric"
sys.path.insert(0, str(ARITH))

SHARED = ("prompts_per_step", "num_generations", "max_new_tokens", "temperature", "learning_rate",
          "lr_schedule", "max_grad_norm")  # taken from the demo's grpo.toml, given to both trainers
TAIL = 20  # the reward reached: mean over the first and the last TAIL steps


def settings() -> dict:
    from rubricc.trainer.config import TrainConfig

    config = TrainConfig.from_toml(ARITH / "grpo.toml")
    return {k: getattr(config, k) for k in SHARED}


def run_rubricc(model: str, data: str, out: Path, steps: int, seed: int) -> dict:
    from rubricc.trainer.config import TrainConfig
    from rubricc.trainer.grpo import train

    config = TrainConfig(model=model, rubric=str(RUBRIC), data=data, output_dir=str(out),
                         steps=steps, seed=seed, loss="dapo", scale_rewards="group", beta=0.0,
                         epsilon=0.2, updates_per_batch=1,
                         save_every=0, **settings())
    started = time.perf_counter()
    result = train(config)
    wall = time.perf_counter() - started
    h = result.history
    return {"step_s": [r["time/step_s"] for r in h], "reward": [r["reward/mean"] for r in h],
            "score_s": sum(r["time/score_s"] for r in h), "wall_s": wall}


def run_trl(model: str, data: str, out: Path, steps: int, seed: int,
            checkpointing: bool = False) -> dict:
    from datasets import Dataset
    from rubricc.trainer.trl_adapter import trl_rewards
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    class StepClock(TrainerCallback):
        def __init__(self):
            self.seconds, self.began = [], 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.began = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self.began)

    rows = [json.loads(line) for line in Path(data).read_text().splitlines()]
    # a user turn, as rubricc's trainer wraps a text prompt: both models see the same text
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                                  "answer": r["answer"]} for r in rows])
    rewards = trl_rewards(RUBRIC)
    s = settings()
    args = GRPOConfig(
        output_dir=str(out), max_steps=steps, seed=seed, data_seed=seed,
        per_device_train_batch_size=s["prompts_per_step"] * s["num_generations"],
        num_generations=s["num_generations"], gradient_accumulation_steps=1,
        max_completion_length=s["max_new_tokens"], temperature=s["temperature"],
        top_p=1.0, top_k=0, learning_rate=s["learning_rate"],
        lr_scheduler_type=s["lr_schedule"], warmup_steps=0, max_grad_norm=s["max_grad_norm"],
        weight_decay=0.0, loss_type="dapo", scale_rewards="group", beta=0.0, num_iterations=1,
        epsilon=0.2, reward_weights=rewards.weights, logging_steps=1, report_to="none",
        save_strategy="no", use_cpu=True, bf16=False, disable_tqdm=True, log_completions=False,
        activation_checkpointing=checkpointing)  # TRL's default is on; rubricc's trainer has none
    clock = StepClock()
    trainer = GRPOTrainer(model=model, reward_funcs=rewards.funcs, args=args,
                          train_dataset=dataset, callbacks=[clock])
    started = time.perf_counter()
    try:
        trainer.train()
    finally:
        rewards.close()
    wall = time.perf_counter() - started
    logged = [r for r in trainer.state.log_history if "reward" in r]
    return {"step_s": clock.seconds, "reward": [r["reward"] for r in logged],
            "score_s": rewards.score_seconds, "wall_s": wall}


def summary(name: str, run: dict) -> dict:
    timed = run["step_s"][1:] or run["step_s"]
    return {"trainer": name, "steps": len(run["step_s"]), "median_step_s": statistics.median(timed),
            "reward_first": statistics.fmean(run["reward"][:TAIL]),
            "reward_last": statistics.fmean(run["reward"][-TAIL:]),
            "score_s": run["score_s"], "wall_s": run["wall_s"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", help="a warmed-up model folder (default: build the demo's)")
    p.add_argument("--data", help="its train.jsonl (with --model)")
    p.add_argument("--trl-checkpointing", action="store_true",
                   help="keep TRL's default activation checkpointing (recomputes the forward pass "
                        "in backward), which rubricc's trainer does not do")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="trl_vs_rubricc-"))
    if args.model:
        model, data = args.model, args.data
    else:
        import demo

        scorer = rubricc.compile(RUBRIC)
        try:
            demo.build(work, args.seed, scorer)
        finally:
            scorer.close()
        model, data = str(work / "warm"), str(work / "train.jsonl")

    load_before = os.getloadavg()[0]
    results = [summary("rubricc", run_rubricc(model, data, work / "rubricc", args.steps, args.seed)),
               summary("TRL", run_trl(model, data, work / "trl", args.steps, args.seed,
                                      args.trl_checkpointing))]
    load_after = os.getloadavg()[0]

    import transformers
    import trl

    s = settings()
    print(f"\n{args.steps} GRPO steps of {s['prompts_per_step']} prompts x "
          f"{s['num_generations']} completions; torch {torch.__version__}, "
          f"transformers {transformers.__version__}, trl {trl.__version__}; "
          f"load average {load_before:.1f} -> {load_after:.1f}")
    print(f"{'trainer':<8} {'median s/step':>13} {f'reward first {TAIL}':>15} "
          f"{f'reward last {TAIL}':>14} {'scoring s':>9} {'wall s':>7}")
    for r in results:
        print(f"{r['trainer']:<8} {r['median_step_s']:>13.3f} {r['reward_first']:>15.3f} "
              f"{r['reward_last']:>14.3f} {r['score_s']:>9.2f} {r['wall_s']:>7.1f}")
    print(f"ratio: {results[1]['median_step_s'] / results[0]['median_step_s']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"settings": s, "results": results,
                                         "load": [load_before, load_after]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
