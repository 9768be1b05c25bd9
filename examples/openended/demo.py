"""Open-ended GRPO in one command: a tiny model is trained against a judge, a tiny model too,
and a ground truth the reward never sees tells whether it learned the property or the judge.

    python examples/openended/demo.py                # 3.5 minutes on 2 CPU cores (README: Train against a judge)
    python examples/openended/demo.py --build-only   # then, from the repository root:
    rubricc train examples/openended/grpo.toml --judge-config examples/openended/judge.toml

1. data       labelled texts for the judge, warm-up sentences, prompts     (colours.py)
2. judge      a tiny LM taught to answer the rubric's judge prompt yes/no  (judge_model.py)
3. calibrate  `rubricc calibrate`'s figures on 400 held-out labelled texts
4. probes     `rubricc check`'s reward-hack probes on colour.rubric, with the trained judge
5. policy     a tiny byte-level LM, warmed up on sentences that mention a colour 21% of the time
6. GRPO       `rubricc.trainer.grpo.train` with grpo.toml and the judge (a checkpoint every 10 steps)
7. audit      128 samples at every checkpoint: the judge's reward and the ground-truth rate
              (`colours.mentions_colour`), plotted together in OUT/demo.png; the judge is
              calibrated again on the last checkpoint's samples

Everything is seeded; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))  # the sibling modules, when run as a script
sys.path.insert(1, str(ROOT / "examples" / "arith"))  # the supervised warm-up, shared

import colours  # noqa: E402
import judge_model  # noqa: E402
from rubricc.trainer.config import TrainConfig  # noqa: E402
from rubricc.trainer.tiny import build_tiny_lm  # noqa: E402
from warmup import warm_up  # noqa: E402

import rubricc  # noqa: E402

CONFIG, JUDGE_CONFIG, RUBRIC = HERE / "grpo.toml", HERE / "judge.toml", HERE / "colour.rubric"

JUDGE_ROWS, CALIBRATION_ROWS, JUDGE_STEPS = 4000, 400, 500
POLICY = {"arch": "qwen2", "hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2,
          "max_positions": 128}
WARMUP = {"max_steps": 400, "batch_size": 64, "learning_rate": 3e-3}
COLOUR = 0.15  # per adjective slot (the second is there half the time): 21% of sentences mention one
AUDIT_SAMPLES = 8  # per prompt (16 prompts) at every checkpoint


def load_judge(out: Path):
    """The judge as `--judge hf:OUT/judge --judge-config judge.toml` loads it (no cache)."""
    from rubricc.backends.spec import find_config, load_judge

    return load_judge(find_config(f"hf:{out / 'judge'}", JUDGE_CONFIG))


def build_judge(out: Path, seed: int, scorer) -> None:
    """Steps 1-2: the judge's labelled rows, the judge trained on them, and held-out labels."""
    rows = colours.judge_rows(JUDGE_ROWS, seed=seed * 1000 + 1)
    held_out = colours.judge_rows(CALIBRATION_ROWS, seed=seed * 1000 + 2,
                                  exclude={r["response"] for r in rows})
    colours.write_jsonl(rows, out / "judge_train.jsonl")
    colours.write_jsonl([{"prompt": r["prompt"], "response": r["response"],
                          "labels": {"colour": r["label"]}} for r in held_out],
                        out / "calibration.jsonl")
    requests = judge_model.judge_requests(scorer, rows)
    judge = judge_model.build_judge(out / "judge", requests, seed=seed)
    losses = judge_model.train_judge(judge, requests, [r["label"] for r in rows],
                                     steps=JUDGE_STEPS, seed=seed)
    judge.model.save_pretrained(out / "judge")
    share = sum(r["label"] for r in rows) / len(rows)
    print(f"judge: {sum(p.numel() for p in judge.model.parameters()):,} parameters, "
          f"{len(judge.tokenizer)} subword tokens; {len(rows)} labelled texts ({share:.0%} "
          f"mention a colour), {len(losses)} steps, loss {losses[0]:.3f} -> "
          f"{sum(losses[-20:]) / 20:.3f} (mean of the last 20)")


def calibrate(labels: Path, judge, plot: Path) -> dict:
    """`rubricc calibrate RUBRIC LABELS --judge ...`: its figures for the one judge item."""
    from rubricc.calibrate import calibrate
    from rubricc.calibrate import plot as reliability

    (c,) = calibrate(str(RUBRIC), str(labels), judge)
    reliability([c], plot)
    figures = {"agreement": c.agreement, "kappa": c.kappa, "brier": c.brier,
               "p_yes_when_yes": c.mean_p(True), "p_yes_when_no": c.mean_p(False)}
    return ({"labelled": len(c.pairs) + c.failed, "failed": c.failed, "plot": str(plot)}
            | {k: None if math.isnan(v) else v for k, v in figures.items()})  # NaN: undefined


def calibration_line(name: str, c: dict) -> str:
    def f(key: str, fmt: str = ".3f") -> str:
        return "undefined" if c[key] is None else format(c[key], fmt)

    return (f"{name}: {c['labelled']} labelled texts, agreement {f('agreement', '.1%')}, kappa "
            f"{f('kappa')}, Brier {f('brier')}, mean P(yes) {f('p_yes_when_yes')} on yes, "
            f"{f('p_yes_when_no')} on no")


def probe(judge) -> list[dict]:
    """`rubricc check RUBRIC --judge ...`: the rubric's tests, lints and reward-hack probes."""
    from rubricc.check_command import check
    from rubricc.probes.findings import summary

    report = check([str(RUBRIC)], judge=judge)  # what `rubricc check` runs
    (file,) = report.files
    for d in file.diagnostics:
        if not d.code.startswith("H"):  # probe findings are listed below
            print(f"  {d.code}: {d.message}")
    verdicts = []
    for o in (o for p in file.probes for o in p.outcomes if o.ran):
        worst = o.worst
        verdicts.append({"code": o.probe.code, "name": o.probe.name, "hacked": o.hacked,
                         "reward": None if worst is None else worst.reward,
                         "baseline": None if worst is None else worst.baseline,
                         "response": None if worst is None else worst.response,
                         "summary": summary(o) if worst is not None else o.probe.name})
    print(f"rubricc check: {len(file.tests)} tests, {file.failed_tests} failed, "
          f"{file.errors} errors, {file.warnings} warnings; probes with the trained judge:")
    for v in verdicts:
        print(f"  {v['code']} {'HACK' if v['hacked'] else 'pass'}  {v['summary']}")
    return verdicts


def build_policy(out: Path, seed: int) -> Path:
    """Step 5: the training prompts and the warmed-up policy in `out`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = [{"prompt": colours.prompt(t)} for t in colours.TOPICS]
    colours.write_jsonl(prompts, out / "prompts.jsonl")
    rows = colours.policy_rows(20_000, seed=seed, colour=COLOUR)
    initial = build_tiny_lm(out / "initial", seed=seed, **POLICY)
    model = AutoModelForCausalLM.from_pretrained(initial)
    tokenizer = AutoTokenizer.from_pretrained(initial)
    losses = warm_up(model, tokenizer, rows, seed=seed, **WARMUP)
    print(f"policy warm-up: {len(losses)} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    model.save_pretrained(out / "warm")
    tokenizer.save_pretrained(out / "warm")
    return out / "warm"


def sample(model, tokenizer, prompts: list[str], n: int, seed: int) -> list[str]:
    """`n` completions per prompt, sampled as GRPO samples them (temperature 1, 48 tokens)."""
    from rubricc.trainer.rollout import eos_ids, prepare_tokenizer, prompt_texts

    prepare_tokenizer(tokenizer)
    model.eval()
    torch.manual_seed(seed)
    enc = tokenizer(prompt_texts(tokenizer, prompts, True, None), return_tensors="pt",
                    padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                             max_new_tokens=48, num_return_sequences=n,
                             eos_token_id=eos_ids(model, tokenizer),
                             pad_token_id=tokenizer.pad_token_id)  # [P x n, P_len + C]
    return tokenizer.batch_decode(out[:, enc.input_ids.size(1):], skip_special_tokens=True)


def audit(model, tokenizer, scorer, judge, seed: int) -> dict:
    """The judge's mean reward and the ground-truth rate on the same fresh samples."""
    prompts = [colours.prompt(t) for t in colours.TOPICS]
    texts = sample(model, tokenizer, prompts, AUDIT_SAMPLES, seed)
    rows = [{"prompt": p, "response": t}
            for p, t in zip([p for p in prompts for _ in range(AUDIT_SAMPLES)], texts)]
    rewards = scorer.score_rows(rows, judge=judge).total
    return {"judge": rewards.nanmean().item(),
            "truth": sum(map(colours.mentions_colour, texts)) / len(texts),
            "rows": rows}


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    from rubricc.trainer import checkpoint

    steps = sorted(int(p.name.removeprefix(checkpoint.PREFIX))
                   for p in checkpoint.folder(run).glob(f"{checkpoint.PREFIX}*"))
    return [(s, checkpoint.path(run, s) / "model") for s in steps]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "out" / "openended")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="GRPO steps (default: grpo.toml's)")
    p.add_argument("--build-only", action="store_true", help="stop before GRPO")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # models this small run fastest on one thread per process
    started = time.perf_counter()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    from rubricc.trainer.grpo import train
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()
    scorer = rubricc.compile(RUBRIC)
    try:
        build_judge(out, args.seed, scorer)
        judge = load_judge(out)
        before = calibrate(out / "calibration.jsonl", judge, out / "calibration.png")
        print(calibration_line("calibration (held-out labelled texts)", before))
        verdicts = probe(judge)
        warm = build_policy(out, args.seed)
        tokenizer = AutoTokenizer.from_pretrained(warm)
        start = audit(AutoModelForCausalLM.from_pretrained(warm), tokenizer, scorer, judge,
                      args.seed)
        print(f"before GRPO: judge reward {start['judge']:.3f}, ground truth "
              f"{start['truth']:.1%} of {len(start['rows'])} samples")
        if args.build_only:
            return 0
        config = TrainConfig.from_toml(CONFIG).model_copy(update={
            "model": str(warm), "data": str(out / "prompts.jsonl"),
            "output_dir": str(out / "grpo"), "seed": args.seed,
            **({"steps": args.steps} if args.steps else {})})
        result = train(config, judge=judge)
        curve = [(0, start)] + [(step, audit(AutoModelForCausalLM.from_pretrained(path),
                                              tokenizer, scorer, judge, args.seed))
                                for step, path in checkpoints(out / "grpo")]
    finally:
        scorer.close()
    last = curve[-1][1]
    colours.write_jsonl([r | {"labels": {"colour": colours.mentions_colour(r["response"])}}
                         for r in last["rows"]], out / "policy_samples.jsonl")
    after = calibrate(out / "policy_samples.jsonl", judge, out / "calibration_policy.png")
    print(calibration_line(f"calibration (the step-{curve[-1][0]} policy's samples)", after))
    seconds = time.perf_counter() - started
    figure = plot(curve, result.history, out / "demo.png")
    print("judge reward / ground truth by GRPO step: "
          + ", ".join(f"{s}: {a['judge']:.2f}/{a['truth']:.0%}" for s, a in curve))
    print(f"judge reward {start['judge']:.3f} -> {last['judge']:.3f}, ground truth "
          f"{start['truth']:.1%} -> {last['truth']:.1%}; training completions cut at "
          f"max_new_tokens {result.history[0]['completion/truncated_frac']:.0%} -> "
          f"{result.history[-1]['completion/truncated_frac']:.0%}; {seconds:.0f} s; plot: {figure}")
    print("samples at the last step: " + " | ".join(r["response"] for r in last["rows"][::16]))
    summary = {"calibration": before, "calibration_on_policy": after, "probes": verdicts,
               "by_step": {s: {"judge": a["judge"], "truth": a["truth"]} for s, a in curve},
               "grpo_steps": len(result.history), "seconds": round(seconds, 1),
               "plot": str(figure)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


def plot(curve: list[tuple], history: list[dict], path: Path) -> Path:
    """The judge's reward (every training step, and on the audit samples at each checkpoint)
    against the ground-truth rate of the same audit samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    trained = [(r["step"], r["reward/mean"]) for r in history if r.get("reward/mean") is not None]
    ax.plot(*zip(*trained), color="tab:blue", alpha=0.25, label="judge reward, training samples")
    steps = [s for s, _ in curve]
    ax.plot(steps, [a["judge"] for _, a in curve], color="tab:blue", marker="o",
            label="judge reward, audit samples")
    ax.plot(steps, [a["truth"] for _, a in curve], color="tab:green", marker="s",
            label="ground truth: mentions a colour")
    cut = [(r["step"], r["completion/truncated_frac"]) for r in history
           if r.get("completion/truncated_frac") is not None]
    ax.plot(*zip(*cut), color="grey", linestyle="--", linewidth=1,
            label="cut at max_new_tokens (training)")
    ax.set(title="GRPO against a trained judge: reward vs ground truth", xlabel="GRPO step",
           ylabel="mean reward / share of samples", ylim=(0, 1.05))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
