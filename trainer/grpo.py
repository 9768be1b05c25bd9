"""GRPO against a compiled rubric, in one loop you can read top to bottom.

    from rubricc.trainer.config import TrainConfig
    from rubricc.trainer.grpo import train
    result = train(TrainConfig.from_toml("train.toml"))       # or: rubricc train train.toml
    result.history[-1]["reward/mean"], result.final_dir

Before step 1 the rubric is probed for reward hacks on the first training rows (`probe_rows`);
a hack it does not declare expected stops the run unless `allow_hacks` is set.

Each step, on each process (torchrun gives each an equal share of the step's prompts):

    1. rollouts    sample num_generations completions per prompt      (rollout.py)
    2. rewards     score them with the rubric; group-relative advantages (rewards.py)
    3. update      clipped policy loss, updates_per_batch optimizer steps (loss.py)
    4. report      metrics, checkpoint                                 (metrics.py, checkpoint.py)
"""

from __future__ import annotations

import json
import math
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import peft
import torch
from rich.console import Console
from transformers import AutoModelForCausalLM, AutoTokenizer, get_scheduler
from transformers.utils.logging import disable_progress_bar

from rubricc.checked_rubric import judge_items
from rubricc.pipeline import compile as compile_rubric
from rubricc.probes import run_probes
from rubricc.probes.findings import summary
from rubricc.probes.signatures import flags as signature_flags

from . import checkpoint, distributed
from .config import TrainConfig
from .data import load_prompts, take
from .loss import policy_loss, token_logps
from .metrics import METRICS_FILE, TENSORBOARD_DIR, RunLog, reward_metrics
from .rewards import group_advantages, keep_mask, score
from .rollout import generate, prepare_tokenizer, prompt_texts


@dataclass
class TrainResult:
    history: list[dict]  # one record per logged step: "step" and the metrics of trainer.metrics
    output_dir: Path
    final_dir: Path  # the trained model (or LoRA adapter) and its tokenizer
    checkpoint: Path | None  # the last checkpoint written
    metrics_path: Path
    tensorboard_dir: Path
    plot_path: Path | None  # rewards.png; None on processes other than the main one
    model: torch.nn.Module  # the trained policy, to evaluate in the same process


RUBRIC_RECORD = "rubric.json"


def record_rubric(output_dir: str, provenance: dict, resuming: bool, main: bool) -> None:
    """OUTPUT_DIR/rubric.json: the rubric's name, version, content hash and packs, so a reward
    can be traced; a resumed run must train against the same rubric, not one changed since."""
    path = Path(output_dir) / RUBRIC_RECORD
    if resuming and path.is_file():
        before = json.loads(path.read_text(encoding="utf-8"))
        if before.get("sha256") != provenance.get("sha256"):
            raise ValueError(f"{output_dir} was trained against {before.get('rubric')} with sha256 "
                             f"{before.get('sha256')}; the rubric is now sha256 "
                             f"{provenance.get('sha256')}: resuming would change the reward "
                             "mid-run (restore the rubric, or train into a new output_dir)")
    if main:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")


def train(config: TrainConfig, resume: bool = False, judge=None) -> TrainResult:
    """Run GRPO as `config` says; `resume` continues from the newest checkpoint in output_dir.

    `judge`: the judge object for rubrics with `judge` items (see rubricc.judges.Judge).
    """
    if config.cpu_threads:
        torch.set_num_threads(config.cpu_threads)
    procs = distributed.start(config.device)
    seed_everything(config.seed + procs.rank)
    scorer = compile_rubric(Path(config.rubric), rubric=config.rubric_name)
    try:
        check_judge(config, scorer, judge)
        rows = load_prompts(config.data, scorer.inputs_of)
        held_out = load_prompts(config.eval_data, scorer.inputs_of) if config.eval_data else []
        guard_against_hacks(config, scorer, rows, judge, procs.main)
        share = process_share(config, procs.world)  # prompts per process per step
        resumed = checkpoint.latest(config.output_dir) if resume else None
        record_rubric(config.output_dir, scorer.provenance, resumed is not None, procs.main)
        disable_progress_bar()  # bars for every checkpoint shard would drown the step lines
        tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(config.model))
        templated = config.chat_template and bool(tokenizer.chat_template)
        policy = load_policy(config, resumed, procs.device)
        reference = load_reference(config, procs.device)
        optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad],
                                      lr=config.learning_rate, weight_decay=config.weight_decay)
        scheduler = lr_scheduler(config, optimizer)
        start, cursor = 0, 0
        if resumed:
            checkpoint.restore(resumed, optimizer, scheduler, procs.rank, procs.world)
            start, cursor = resumed.step, resumed.cursor
        model = policy
        if procs.world > 1:
            on_cuda = procs.device.type == "cuda"
            model = torch.nn.parallel.DistributedDataParallel(
                policy, device_ids=[procs.device.index] if on_cuda else None)
        log = RunLog(config.output_dir, procs.main, config.steps, start if resumed else None)
        saved = resumed.path if resumed else None

        for step in range(start, config.steps):
            began = time.perf_counter()
            batch = take(rows, cursor, config.prompts_per_step, config.seed)
            batch = batch[procs.rank * share:(procs.rank + 1) * share]  # this process's prompts
            cursor += config.prompts_per_step

            # 1. rollouts: B = share x num_generations completions, grouped by prompt
            texts = prompt_texts(tokenizer, [r["prompt"] for r in batch], config.chat_template,
                                 config.system_prompt)
            roll = generate(policy, tokenizer, texts, config, templated)
            generated = time.perf_counter()

            # 2. rewards and advantages; groups are whole on each process, but "batch" scaling and
            #    the metrics see every process's rows
            rewards = score(scorer, batch, roll.texts, config.num_generations, judge)
            every = gather_step(procs, rewards, roll)
            advantages = group_advantages(every["total"], every["valid"], config.num_generations,
                                          config.scale_rewards)  # [B x processes]
            advantages = advantages.view(procs.world, -1)[procs.rank]  # [B]
            keep = keep_mask(rewards.valid, roll.truncated.cpu(), config.mask_truncated)
            scored = time.perf_counter()

            # 3. update
            stats = update(model, policy, reference, optimizer, scheduler, roll,
                           advantages.to(procs.device), keep.to(procs.device), config, procs)
            updated = time.perf_counter()

            # 4. report
            done = step + 1
            evaluating = bool(held_out) and (done % config.eval_every == 0 or done == config.steps)
            if done % config.log_every == 0 or done == config.steps or evaluating:
                metrics = reward_metrics(rewards.names, every["values"], every["status"],
                                         every["total"], every["valid"], every["lengths"],
                                         every["truncated"], config.num_generations,
                                         every["hacks"])
                metrics |= stats | {"lr": scheduler.get_last_lr()[0],
                                    "time/generate_s": generated - began,
                                    "time/score_s": scored - generated,
                                    "time/update_s": updated - scored,
                                    "time/step_s": time.perf_counter() - began}
                if evaluating and procs.main:
                    metrics |= evaluate(policy, tokenizer, scorer, held_out, config, templated,
                                        judge)
                log.log(done, metrics)
            if done == config.steps or (config.save_every and done % config.save_every == 0):
                rng = distributed.gather_objects(procs, checkpoint.rng_state())
                if procs.main:
                    checkpoint.save(config.output_dir, done, cursor, policy, optimizer,
                                    scheduler, rng, config, config.keep_checkpoints)
                saved = checkpoint.path(config.output_dir, done)

        out = Path(config.output_dir)
        final = out / "final"
        if procs.main:
            checkpoint.save_model(policy, tokenizer, final)
        plot = log.close()
        if procs.world > 1:
            torch.distributed.barrier()  # every process returns once the files are written
        return TrainResult(log.history, out, final, saved, out / METRICS_FILE,
                           out / TENSORBOARD_DIR, plot, policy)
    finally:
        scorer.close()
        distributed.stop(procs)


def update(model, policy, reference, optimizer, scheduler, roll, advantages: torch.Tensor,
           keep: torch.Tensor, config: TrainConfig, procs) -> dict[str, float]:
    """`updates_per_batch` optimizer steps on this batch of rollouts; returns the step's loss
    metrics, averaged over processes."""
    ids, attention = roll.input_ids, roll.attention_mask  # [B, T]
    width = roll.completion_ids.size(1)  # C
    mask = roll.completion_mask * keep[:, None]  # [B, C] tokens that enter the loss
    size = ids.size(0) // config.grad_accum
    parts = [slice(i, i + size) for i in range(0, ids.size(0), size)]  # micro-batches
    # dapo's normaliser, as TRL: every completion token of the step, divided by the processes
    # (DDP averages their gradients)
    tokens = distributed.total(procs, roll.completion_mask.sum().float()) / procs.world

    def logps_of(net) -> torch.Tensor:  # [B, C] in the same micro-batches, without gradients
        return torch.cat([token_logps(net, ids[p], attention[p], width, config.temperature)[0]
                          for p in parts])

    policy.eval()
    with torch.no_grad():
        old = logps_of(policy) if config.updates_per_batch > 1 else None  # else: logps.detach()
        ref = None
        if config.beta and reference is not None:
            ref = logps_of(reference)
        elif config.beta:
            with policy.disable_adapter():  # LoRA: the base model is the reference
                ref = logps_of(policy)
    policy.train()

    # summed over micro-batches and updates here, then over processes (one all_reduce)
    sums = {name: torch.zeros((), device=ids.device) for name in
            ("loss", "tokens", "clip_low", "clip_high", "ratio", "kl", "entropy", "produced")}
    norms = []
    for update_index in range(config.updates_per_batch):
        for j, p in enumerate(parts):
            last = j == len(parts) - 1
            with nullcontext() if last or procs.world == 1 else model.no_sync():
                logps, entropy = token_logps(model, ids[p], attention[p], width,
                                             config.temperature, entropy=update_index == 0)
                loss, token_sums = policy_loss(
                    logps=logps, old_logps=logps.detach() if old is None else old[p],
                    advantages=advantages[p], mask=mask[p], loss_type=config.loss,
                    epsilon=config.epsilon, epsilon_high=config.epsilon_high, beta=config.beta,
                    ref_logps=None if ref is None else ref[p],
                    max_new_tokens=config.max_new_tokens, sequences=ids.size(0), tokens=tokens)
                loss.backward()
            sums["loss"] += loss.detach()
            for name, value in token_sums.items():  # tokens clip_low clip_high ratio [kl]
                sums[name] += value
            if entropy is not None:  # first update only: the policy before this batch
                produced = roll.completion_mask[p]  # every generated token, kept or not
                sums["entropy"] += (entropy * produced).sum()
                sums["produced"] += produced.sum()
        limit = config.max_grad_norm or float("inf")  # 0: measure, do not clip
        norms.append(torch.nn.utils.clip_grad_norm_(policy.parameters(), limit).item())
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)

    sums = distributed.total_by_name(procs, sums)
    tokens_in_loss = max(sums["tokens"], 1)
    stats = {"loss": sums["loss"] / (procs.world * config.updates_per_batch),
             "clip_low_frac": sums["clip_low"] / tokens_in_loss,
             "clip_high_frac": sums["clip_high"] / tokens_in_loss,
             "clip_frac": (sums["clip_low"] + sums["clip_high"]) / tokens_in_loss,
             "ratio_mean": sums["ratio"] / tokens_in_loss,
             "entropy": sums["entropy"] / max(sums["produced"], 1),
             "grad_norm": sum(norms) / len(norms)}
    if config.beta:
        stats["kl"] = sums["kl"] / tokens_in_loss
    return stats


def evaluate(policy, tokenizer, scorer, rows: list[dict], config: TrainConfig, templated: bool,
             judge) -> dict[str, float]:
    """One greedy completion per held-out prompt, scored: the rubric's reward and items on prompts
    the policy never trained on. Greedy draws nothing from the sampling generator, so a run with
    held-out rows samples the same rollouts as one without."""
    chunk = config.prompts_per_step * config.num_generations  # the rollouts' own batch size
    parts = []
    for i in range(0, len(rows), chunk):
        batch = rows[i:i + chunk]
        texts = prompt_texts(tokenizer, [r["prompt"] for r in batch], config.chat_template,
                             config.system_prompt)
        roll = generate(policy, tokenizer, texts, config, templated, greedy=True)
        parts.append(score(scorer, batch, roll.texts, 1, judge))
    values = torch.cat([p.values for p in parts])  # [N, K]
    total, valid = torch.cat([p.total for p in parts]), torch.cat([p.valid for p in parts])
    metrics = {"eval/reward/mean": total[valid].mean().item() if valid.any() else math.nan,
               "eval/reward/valid_frac": valid.float().mean().item()}
    for k, name in enumerate(parts[0].names):
        ran = values[:, k][~values[:, k].isnan()]
        metrics[f"eval/item/{name}/mean"] = ran.mean().item() if ran.numel() else math.nan
    return metrics


def gather_step(procs, rewards, roll) -> dict[str, torch.Tensor]:
    """The step's rewards, completion stats and hack signatures from every process, on the CPU,
    rows in rank order ([B x processes, ...]), each in its own dtype."""
    hacks = torch.tensor(signature_flags(roll.texts), dtype=torch.bool).view(len(roll.texts), -1)
    mine = {"values": rewards.values, "status": rewards.status,  # [B, K] float32, int8
            "total": rewards.total, "valid": rewards.valid,  # [B] float32, bool
            "lengths": roll.lengths, "truncated": roll.truncated,  # [B] int64, bool
            "hacks": hacks}  # [B, S] bool
    return {name: distributed.gather(procs, part.to(procs.device)).cpu()
            for name, part in mine.items()}


def guard_against_hacks(config: TrainConfig, scorer, rows: list[dict], judge, main: bool) -> None:
    """Probe the rubric on the first `probe_rows` training rows before step 1; refuse to start on a
    hack the rubric does not declare expected, unless `allow_hacks` says to go on (loudly)."""
    if not config.probe_rows:
        return
    report = run_probes(scorer, rows[:config.probe_rows], judge=judge)
    if report.skipped or not report.hacks:
        return
    found = "\n".join(f"  {o.probe.code} {summary(o)}" for o in report.hacks)
    message = (f"{config.rubric} can be hacked: the probes found, on {report.rows} training rows:\n"
               f"{found}\nfix the rubric (docs/probes.md), declare a hack it accepts with "
               f"`expect hack CODE \"why\"`, or set allow_hacks = true to train anyway")
    if not config.allow_hacks:
        raise HackableReward(message)
    if main:
        Console(stderr=True).print(f"[bold red]WARNING: training on a hackable reward "
                                   f"(allow_hacks = true)[/]\n{message}", highlight=False)


class HackableReward(ValueError):
    """The probes found a reward hack that the rubric does not declare expected."""


# ---- set-up ------------------------------------------------------------------------------------


def check_judge(config: TrainConfig, scorer, judge) -> None:
    """Refuse, before any model loads, a run whose judge items would have no judge."""
    if config.judge and judge is None:
        raise ValueError(f"judge = {config.judge!r} is set, but no judge was given: build it and "
                         f"pass train(config, judge=...)")
    if judge is None and judge_items(scorer.checked):
        raise ValueError(f"{config.rubric} has judge items: pass train(config, judge=...)")


def process_share(config: TrainConfig, world: int) -> int:
    share = config.prompts_per_step // world
    if share * world != config.prompts_per_step or (share * config.num_generations) % config.grad_accum:
        raise ValueError(f"prompts_per_step ({config.prompts_per_step}) must split evenly over "
                         f"{world} process(es), and each share x num_generations over "
                         f"grad_accum ({config.grad_accum})")
    return share


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # CPU and every CUDA device


def load_model(config: TrainConfig, source, device: torch.device):
    """A causal LM from `source` (a name or folder), in `config.dtype`, on `device`."""
    dtype = config.dtype if config.dtype == "auto" else getattr(torch, config.dtype)
    return AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device)


def load_policy(config: TrainConfig, resumed, device: torch.device):
    """The model to train: from the checkpoint when resuming; with a fresh or saved LoRA adapter
    when `config.lora` is set."""
    if config.lora is None:
        return load_model(config, resumed.path / "model" if resumed else config.model, device)
    base = load_model(config, config.model, device)
    if resumed:
        return peft.PeftModel.from_pretrained(base, resumed.path / "model", is_trainable=True)
    lora = config.lora
    return peft.get_peft_model(base, peft.LoraConfig(r=lora.r, lora_alpha=lora.alpha,
                                                     lora_dropout=lora.dropout,
                                                     target_modules=lora.target_modules,
                                                     task_type="CAUSAL_LM"))


def load_reference(config: TrainConfig, device: torch.device):
    """The frozen starting model for the KL term; None when beta is 0 or with LoRA (whose base
    model, adapter disabled, is the reference)."""
    if not config.beta or config.lora is not None:
        return None
    return load_model(config, config.model, device).eval().requires_grad_(False)


def lr_scheduler(config: TrainConfig, optimizer):
    """transformers' schedules (as TRL uses them), over steps x updates_per_batch updates."""
    name = {"constant": "constant_with_warmup"}.get(config.lr_schedule, config.lr_schedule)
    return get_scheduler(name, optimizer, num_warmup_steps=config.warmup_steps,
                         num_training_steps=config.steps * config.updates_per_batch)
