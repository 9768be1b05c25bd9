"""The built-in GRPO trainer: config, data, loss and advantages against hand computations, and
real runs on a tiny local model (a few steps, short completions): logging, resume exactness,
LoRA, and two processes under torchrun."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from pydantic import ValidationError
from rubricc.trainer.checkpoint import rng_state, set_rng_state
from rubricc.trainer.config import LoraConfig, TrainConfig, markdown_table
from rubricc.trainer.data import load_prompts, take
from rubricc.trainer.grpo import HackableReward, record_rubric, train
from rubricc.trainer.loss import policy_loss
from rubricc.trainer.metrics import moving_average
from rubricc.trainer.rewards import group_advantages, keep_mask
from rubricc.trainer.rollout import completion_mask
from rubricc.trainer.tiny import build_tiny_lm
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

import rubricc
from rubricc.cli import main
from rubricc.judges import PinnedJudge
from rubricc.probes import run_probes
from rubricc.types import TEXT
from tests.conftest import ROOT, TOY_RUBRIC

# `ascii` errors (a value above 1) on responses with more than 6 printable ASCII characters: the
# untrained byte-level model writes about 4 in 12 tokens, so some rows are invalid, most are not.
# It is hackable (whitespace earns `ascii`), so the runs below set allow_hacks.


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny matrices: a second thread only adds contention on a shared 2-core machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    folder = tmp_path_factory.mktemp("task")
    (folder / "toy.rubric").write_text(TOY_RUBRIC)
    rows = [{"prompt": f"Write the letter {c}", "letter": c} for c in "abcdefgh"]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    build_tiny_lm(folder / "model", arch="qwen2", hidden=32, layers=1, heads=2, kv_heads=1)
    return folder


def config(task, out, **changes) -> TrainConfig:
    settings = dict(model=str(task / "model"), rubric=str(task / "toy.rubric"),
                    data=str(task / "data.jsonl"), output_dir=str(out), steps=2,
                    prompts_per_step=2, num_generations=4, max_new_tokens=12,
                    learning_rate=1e-2, save_every=0, allow_hacks=True)
    return TrainConfig(**(settings | changes))


def test_the_plotted_moving_average_uses_fewer_values_at_the_start():
    assert moving_average([1.0, 2.0, 3.0, 4.0, 8.0], 2) == [1.0, 1.5, 2.5, 3.5, 6.0]
    assert moving_average([1.0, 2.0, 3.0], 5) == [1.0, 1.5, 2.0]
    assert moving_average([0.5, 0.25], 1) == [0.5, 0.25]


# ---- config ------------------------------------------------------------------------------------


def test_every_config_field_is_documented():
    doc = (ROOT / "docs" / "training.md").read_text()
    fields = list(TrainConfig.model_fields) + [f"lora.{f}" for f in LoraConfig.model_fields]
    assert [f for f in fields if f"| `{f}` |" not in doc] == []
    assert markdown_table() in doc, "regenerate the table: python -c 'from rubricc.trainer." \
                                    "config import markdown_table; print(markdown_table())'"
    assert all(f.description for f in TrainConfig.model_fields.values())


def test_toml_paths_are_taken_from_the_config_folder(tmp_path):
    (tmp_path / "model").mkdir()
    path = tmp_path / "train.toml"
    path.write_text('model = "model"\nrubric = "r.rubric"\ndata = "d.jsonl"\n'
                    'loss = "dr_grpo"\n[lora]\nr = 4\n')
    c = TrainConfig.from_toml(path)
    assert (c.model, c.rubric, c.output_dir) == (str(tmp_path / "model"),
                                                 str(tmp_path / "r.rubric"),
                                                 str(tmp_path / "runs/grpo"))
    assert c.loss == "dr_grpo" and c.lora.r == 4 and c.clip_high == c.epsilon
    path.write_text('model = "Qwen/Qwen2.5-0.5B"\nrubric = "r"\ndata = "d"\n')
    assert TrainConfig.from_toml(path).model == "Qwen/Qwen2.5-0.5B"  # a name, not a folder here


@pytest.mark.parametrize("body, message", [
    ('model = "m"\nrubric = "r"\ndata = "d"\nstepz = 3\n',
     "unknown field `stepz` (did you mean `steps`?)"),
    ('model = "m"\nrubric = "r"\ndata = "d"\nsteps = "ten"\n', "field `steps`: "),
    ('model = "m"\nrubric = "r"\ndata = "d"\nloss = "ppo"\n', "field `loss`: "),
    ('model = "m"\nrubric = "r"\ndata = "d"\n[lora]\nrank = 8\n',
     "unknown field `lora.rank`"),
    ('rubric = "r"\ndata = "d"\n', "missing field `model`"),
    ('model = "m"\nrubric = "r"\ndata = "d"\ngrad_accum = 3\n', "grad_accum (3) must divide"),
    ('model = "m\n', "invalid TOML"),
])
def test_toml_errors_name_the_file_and_the_field(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ValueError) as caught:
        TrainConfig.from_toml(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_dr_grpo_without_max_new_tokens_is_a_config_error():
    settings = dict(model="m", rubric="r", data="d", loss="dr_grpo", max_new_tokens=None)
    refused = r'loss = "dr_grpo" divides .* by max_new_tokens, so max_new_tokens must be set'
    with pytest.raises(ValidationError, match=refused):
        TrainConfig(**settings)
    with pytest.raises(ValidationError, match=refused):
        TrainConfig.model_validate_json(json.dumps(settings))
    assert TrainConfig(**settings | {"max_new_tokens": 16}).max_new_tokens == 16
    with pytest.raises(ValueError, match="pass max_new_tokens"):  # the loss, called on its own
        policy_loss(logps=torch.zeros(1, 2), old_logps=torch.zeros(1, 2),
                    advantages=torch.ones(1), mask=torch.ones(1, 2), loss_type="dr_grpo")


# ---- data --------------------------------------------------------------------------------------


def test_bad_prompt_rows_are_reported_by_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join([json.dumps({"prompt": "p", "answer": "1"}),
                               json.dumps({"prompt": "p"}),
                               "{oops",
                               json.dumps({"prompt": 3, "answer": "1"})]) + "\n")
    with pytest.raises(ValueError) as caught:
        load_prompts(str(path), lambda row: {"answer": TEXT})
    text = str(caught.value)
    assert "3 bad row(s)" in text
    assert f"{path}:2: D003 missing column `answer`" in text
    assert f"{path}:3: D001 invalid JSON" in text
    assert f"{path}:4: D004 column `prompt` should be text" in text


def test_the_prompt_stream_is_seeded_and_walks_whole_epochs():
    rows = [{"i": i} for i in range(5)]
    first = [r["i"] for r in take(rows, 0, 5, seed=1)]
    assert sorted(first) == list(range(5))
    assert [r["i"] for r in take(rows, 3, 4, seed=1)][:2] == first[3:]  # a cursor resumes it
    second = [r["i"] for r in take(rows, 5, 5, seed=1)]
    assert sorted(second) == list(range(5)) and second != first  # epoch 2: reshuffled
    assert take(rows, 0, 5, seed=1) == take(rows, 0, 5, seed=1)
    assert take(rows, 0, 5, seed=1) != take(rows, 0, 5, seed=2)


# ---- the loss, against hand computations ---------------------------------------------------------


def test_clipped_loss_on_two_tokens_by_hand():
    logps = torch.log(torch.tensor([[1.5, 0.5]]))  # ratios 1.5 and 0.5 against old log-prob 0
    old, mask = torch.zeros(1, 2), torch.ones(1, 2)
    # A = +1: -min(1.5, 1.2) = -1.2 and -min(0.5, 0.8) = -0.5, so -1.7 over two tokens
    up = dict(logps=logps, old_logps=old, advantages=torch.tensor([1.0]), mask=mask, epsilon=0.2)
    assert policy_loss(loss_type="grpo", **up)[0].item() == pytest.approx(-0.85)
    assert policy_loss(loss_type="dapo", **up)[0].item() == pytest.approx(-0.85)
    assert policy_loss(loss_type="dr_grpo", max_new_tokens=4,
                       **up)[0].item() == pytest.approx(-1.7 / 4)
    # A = -1: -min(-1.5, -1.2) = 1.5 and -min(-0.5, -0.8) = 0.8
    down = up | dict(advantages=torch.tensor([-1.0]))
    assert policy_loss(loss_type="dapo", **down)[0].item() == pytest.approx(2.3 / 2)
    # clip-higher: with epsilon_high 0.6 the ratio 1.5 is no longer clipped for A > 0
    assert policy_loss(loss_type="dapo", epsilon_high=0.6,
                       **up)[0].item() == pytest.approx(-2.0 / 2)


def hand_loss(logps, old, adv, mask, kind, eps, eps_high, beta, ref, max_new_tokens):
    """The definitions in docs/training.md, one token at a time."""
    rows = []
    for i in range(len(logps)):
        row = []
        for t in range(len(logps[i])):
            r = math.exp(logps[i][t] - old[i][t])
            clipped = min(max(r, 1 - eps), 1 + eps_high)
            loss = -min(r * adv[i], clipped * adv[i])
            d = ref[i][t] - logps[i][t]
            row.append((loss + beta * (math.exp(d) - d - 1)) * mask[i][t])
        rows.append(row)
    if kind == "grpo":
        return sum(sum(r) / max(1, sum(m)) for r, m in zip(rows, mask)) / len(rows)
    if kind == "dr_grpo":
        return sum(map(sum, rows)) / (len(rows) * max_new_tokens)
    return sum(map(sum, rows)) / sum(map(sum, mask))


@pytest.mark.parametrize("kind", ["grpo", "dr_grpo", "dapo"])
@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_each_loss_matches_the_definition(kind, beta):
    g = torch.Generator().manual_seed(7)
    logps = -torch.rand(3, 5, generator=g, dtype=torch.float64) * 2
    old = logps + (torch.rand(3, 5, generator=g, dtype=torch.float64) - 0.5) * 0.8
    ref = logps + (torch.rand(3, 5, generator=g, dtype=torch.float64) - 0.5)
    adv = torch.tensor([1.3, -0.7, 0.4], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.float64)
    loss, sums = policy_loss(logps=logps, old_logps=old, advantages=adv, mask=mask,
                             loss_type=kind, epsilon=0.2, epsilon_high=0.28, beta=beta,
                             ref_logps=ref, max_new_tokens=6)
    expected = hand_loss(logps.tolist(), old.tolist(), adv.tolist(), mask.tolist(), kind, 0.2,
                         0.28, beta, ref.tolist(), 6)
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    ratio = (logps - old).exp()
    clipped = (((ratio < 0.8) & (adv[:, None] < 0)) | ((ratio > 1.28) & (adv[:, None] > 0)))
    assert (sums["clip_low"] + sums["clip_high"]).item() == (clipped * mask).sum().item()


def test_micro_batches_add_up_to_the_whole_batch():
    g = torch.Generator().manual_seed(3)
    logps, old = -torch.rand(4, 6, generator=g), -torch.rand(4, 6, generator=g)
    adv, mask = torch.randn(4, generator=g), (torch.rand(4, 6, generator=g) > 0.3).float()
    for kind in ("grpo", "dr_grpo", "dapo"):
        whole = policy_loss(logps=logps, old_logps=old, advantages=adv, mask=mask,
                            loss_type=kind, max_new_tokens=6)[0]
        parts = sum(policy_loss(logps=logps[s], old_logps=old[s], advantages=adv[s],
                                mask=mask[s], loss_type=kind, max_new_tokens=6, sequences=4,
                                tokens=mask.sum())[0]
                    for s in (slice(0, 2), slice(2, 4)))
        assert parts.item() == pytest.approx(whole.item(), rel=1e-6)


# ---- advantages and masks ----------------------------------------------------------------------


def test_advantages_match_trl_when_every_row_is_valid():
    total = torch.tensor([1.0, 0.0, 0.5, 0.5, 0.2, 0.9, 0.9, 0.1])
    valid = torch.ones(8, dtype=torch.bool)
    groups = total.view(2, 4)
    centred = (groups - groups.mean(1, keepdim=True)).flatten()
    group_std = groups.std(1).repeat_interleave(4)
    assert torch.allclose(group_advantages(total, valid, 4, "group"), centred / (group_std + 1e-4))
    assert torch.allclose(group_advantages(total, valid, 4, "batch"), centred / (total.std() + 1e-4))
    assert torch.allclose(group_advantages(total, valid, 4, "none"), centred)


def test_invalid_rows_leave_the_baseline_and_get_no_advantage():
    nan = float("nan")
    total = torch.tensor([1.0, nan, 0.0, 0.5, 0.3, nan, nan, nan])
    valid = ~total.isnan()
    adv = group_advantages(total, valid, 4, "none")
    assert torch.allclose(adv, torch.tensor([0.5, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0, 0.0]))
    scaled = group_advantages(total, valid, 4, "group")
    assert scaled[0].item() == pytest.approx(0.5 / (0.5 + 1e-4))  # std of 1, 0, 0.5 is 0.5
    assert scaled[4].item() == 0.0  # the only valid row of its group: no comparison, no signal
    assert not scaled.isnan().any()


def test_rows_kept_in_the_loss():
    valid = torch.tensor([True, True, False, False])
    truncated = torch.tensor([False, True, False, True])
    assert keep_mask(valid, truncated, False).tolist() == [True, True, False, False]
    assert keep_mask(valid, truncated, True).tolist() == [True, False, False, False]


def test_completion_mask_stops_after_the_first_eos():
    ids = torch.tensor([[5, 2, 9, 9], [5, 6, 7, 8], [2, 0, 0, 0]])
    mask, truncated = completion_mask(ids, [2])
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    assert truncated.tolist() == [False, True, False]


# ---- real runs on a tiny model -----------------------------------------------------------------


def test_train_from_the_command_line_logs_everything(task, tmp_path, capsys):
    out = tmp_path / "run"
    toml = tmp_path / "train.toml"
    toml.write_text(textwrap.dedent(f"""\
        model = "{task / 'model'}"
        rubric = "{task / 'toy.rubric'}"
        data = "{task / 'data.jsonl'}"
        output_dir = "run"
        steps = 3
        prompts_per_step = 2
        num_generations = 4
        max_new_tokens = 12
        learning_rate = 0.01
        save_every = 2
        allow_hacks = true
        """))
    assert main(["train", str(toml)]) == 0
    printed = capsys.readouterr()
    assert "step 3/3" in printed.out and "hacks multi" in printed.out
    assert "WARNING: training on a hackable reward" in printed.err and "H002 whitespace" in printed.err
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    for r in records:
        assert math.isfinite(r["loss"]) and math.isfinite(r["grad_norm"])
        assert r["item/ascii/ok"] + r["item/ascii/error"] == 8  # every completion scored
        assert r["reward/valid_frac"] == (8 - r["item/ascii/error"]) / 8
        assert {"time/generate_s", "time/score_s", "time/update_s", "entropy", "clip_frac",
                "completion/length_mean", "item/has_letter/mean", "hack/several_answers_frac",
                "hack/loop_frac", "hack/refusal_frac", "hack/empty_frac", "hack/truncated_frac",
                "hack/length_growth"} <= r.keys()
        assert 0 <= r["hack/loop_frac"] <= 1 and r["hack/truncated_frac"] == r["completion/truncated_frac"]
    assert records[0]["hack/length_growth"] == 1
    assert any(r["reward/valid_frac"] < 1 for r in records)  # invalid rows happened, and were masked
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert (out / "rewards.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000002", "step-000003"]
    # final/ loads as a model and tokenizer, and is the trained policy (the last checkpoint's
    # weights), not the starting model
    ids = AutoTokenizer.from_pretrained(out / "final")(PROBE, return_tensors="pt").input_ids
    final = logits_of(AutoModelForCausalLM.from_pretrained(out / "final"), ids)
    last = AutoModelForCausalLM.from_pretrained(out / "checkpoints" / "step-000003" / "model")
    start = AutoModelForCausalLM.from_pretrained(task / "model")
    assert torch.equal(final, logits_of(last, ids)) and not torch.allclose(final, logits_of(start, ids))


PROBE = "Write the letter q"  # a fixed input to compare models on


def logits_of(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(input_ids=ids).logits  # [1, T, V]


def test_a_hackable_rubric_stops_the_run_before_any_model_loads(task, tmp_path, capsys):
    c = config(task, tmp_path / "run", allow_hacks=False, model=str(tmp_path / "no-model-here"))
    with pytest.raises(HackableReward) as caught:
        train(c)
    assert "H002 whitespace" in str(caught.value) and "through `ascii`" in str(caught.value)
    assert not (tmp_path / "run").exists()
    declared = tmp_path / "declared.rubric"  # the same rubric, with its hacks declared, starts
    report_codes = {o.probe.code for o in probe_toy(task).hacks}
    lines = "".join(f'    expect hack {code} "a toy reward for the trainer\'s tests"\n' for code in report_codes)
    declared.write_text(TOY_RUBRIC.replace("    score =", lines + "    score ="))
    result = train(config(task, tmp_path / "run2", allow_hacks=False, rubric=str(declared), steps=1))
    assert result.history[-1]["step"] == 1


def probe_toy(task):
    scorer = rubricc.compile(task / "toy.rubric")
    try:
        return run_probes(scorer, load_prompts(str(task / "data.jsonl"), scorer.inputs_of)[:8])
    finally:
        scorer.close()


@pytest.mark.parametrize("kind", ["grpo", "dr_grpo", "dapo"])
def test_each_loss_trains_with_kl_several_updates_and_micro_batches(task, tmp_path, kind):
    result = train(config(task, tmp_path, loss=kind, steps=1, beta=0.1, updates_per_batch=2,
                          grad_accum=2, epsilon_high=0.28))
    [r] = result.history
    assert math.isfinite(r["loss"]) and math.isfinite(r["kl"]) and r["kl"] >= 0
    assert 0 <= r["clip_frac"] <= 1 and r["ratio_mean"] != 1.0  # update 2 moved off the old policy


def test_masked_rows_give_no_gradient(task, tmp_path):
    # The untrained model never stops within 12 tokens: every completion is truncated.
    result = train(config(task, tmp_path, steps=1, mask_truncated=True, beta=0.1))
    [r] = result.history
    assert r["completion/truncated_frac"] == 1.0
    assert r["loss"] == 0.0 and r["grad_norm"] == 0.0


def test_resume_continues_exactly(task, tmp_path):
    settings = dict(steps=3, lr_schedule="linear", warmup_steps=1, updates_per_batch=2,
                    save_every=1)
    straight = train(config(task, tmp_path / "a", **settings))
    interrupted = train(config(task, tmp_path / "b", **settings))
    shutil.rmtree(interrupted.checkpoint)  # as if the run had stopped after step 2
    shutil.rmtree(interrupted.final_dir)
    resumed = train(config(task, tmp_path / "b", **settings), resume=True)

    a, b = (torch.load(p / "trainer_state.pt", weights_only=True)
            for p in (straight.checkpoint, resumed.checkpoint))
    assert (a["step"], a["cursor"]) == (b["step"], b["cursor"]) == (3, 6)
    assert weights(straight.final_dir) == weights(resumed.final_dir)
    ids = AutoTokenizer.from_pretrained(straight.final_dir)(PROBE, return_tensors="pt").input_ids
    saved = AutoModelForCausalLM.from_pretrained(straight.final_dir)
    assert torch.equal(logits_of(saved, ids), logits_of(straight.model, ids))  # the policy in memory
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in ("exp_avg", "exp_avg_sq", "step"))
    assert a["scheduler"] == b["scheduler"]
    assert torch.equal(a["rng"][0]["torch"], b["rng"][0]["torch"])
    assert a["rng"][0]["python"] == b["rng"][0]["python"]
    record = json.loads((tmp_path / "b" / "rubric.json").read_text())
    assert record == rubricc.compile(task / "toy.rubric").provenance  # what the reward came from
    drop = ("time/", "lr")  # timings differ; everything else must not
    assert ([{k: v for k, v in r.items() if not k.startswith(drop)} for r in straight.history]
            == [{k: v for k, v in r.items() if not k.startswith(drop)} for r in resumed.history])


def test_a_run_records_its_rubric_and_will_not_resume_against_a_changed_one(tmp_path):
    first = {"rubric": "toy", "version": "1.0", "sha256": "aa", "packs": {}}
    record_rubric(str(tmp_path), first, resuming=False, main=True)
    record_rubric(str(tmp_path), first, resuming=True, main=True)  # the same rubric: fine
    changed = first | {"sha256": "bb"}
    with pytest.raises(ValueError, match="sha256 aa; the rubric is now sha256 bb: resuming would"):
        record_rubric(str(tmp_path), changed, resuming=True, main=True)
    record_rubric(str(tmp_path), changed, resuming=False, main=True)  # a fresh run may change it


def weights(folder) -> dict[str, bytes]:
    return {k: v.numpy().tobytes() for k, v in load_file(folder / "model.safetensors").items()}


def test_held_out_prompts_are_scored_greedily_and_leave_training_as_it_was(task, tmp_path):
    held = tmp_path / "held.jsonl"
    rows = [{"prompt": f"Write the letter {c}", "letter": c} for c in "xyz"]
    held.write_text("".join(json.dumps(r) + "\n" for r in rows))
    short = dict(steps=3, max_new_tokens=4)  # at most 4 characters: `ascii` stays within [0, 1]
    plain = train(config(task, tmp_path / "plain", **short))
    evaluated = train(config(task, tmp_path / "eval", **short, eval_data=str(held), eval_every=2))
    assert weights(plain.final_dir) == weights(evaluated.final_dir)  # same rollouts, same updates
    assert [r["step"] for r in evaluated.history if "eval/reward/mean" in r] == [2, 3]
    last = evaluated.history[-1]
    # the step-3 figures are the rubric's scores of the final policy's greedy completions
    tokenizer = AutoTokenizer.from_pretrained(evaluated.final_dir)
    model = AutoModelForCausalLM.from_pretrained(evaluated.final_dir)
    texts = []
    for r in rows:
        ids = tokenizer(r["prompt"], return_tensors="pt").input_ids
        out = model.generate(ids, do_sample=False, max_new_tokens=4,
                             pad_token_id=tokenizer.pad_token_id)
        texts.append(tokenizer.decode(out[0, ids.size(1):], skip_special_tokens=True))
    batch = rubricc.compile(task / "toy.rubric").score_rows(
        [r | {"response": t} for r, t in zip(rows, texts)])
    assert last["eval/reward/mean"] == pytest.approx(batch.total.mean().item(), abs=1e-6)
    assert last["eval/item/ascii/mean"] == pytest.approx(batch.values[:, 1].mean().item(), abs=1e-6)
    assert last["eval/reward/valid_frac"] == 1.0
    logged = [json.loads(line) for line in (tmp_path / "eval" / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["eval/reward/mean"] == last["eval/reward/mean"]


def test_lora_trains_the_adapter_leaves_the_base_model_and_resumes(task, tmp_path):
    before = weights(task / "model")
    lora = LoraConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    settings = dict(lora=lora, beta=0.1, save_every=1, keep_checkpoints=1, updates_per_batch=2)
    straight = train(config(task, tmp_path / "a", **settings))
    assert (straight.final_dir / "adapter_model.safetensors").exists()
    assert not (straight.final_dir / "model.safetensors").exists()
    assert weights(task / "model") == before
    assert [p.name for p in (tmp_path / "a" / "checkpoints").iterdir()] == ["step-000002"]
    adapter = adapter_of(straight.final_dir)
    assert any("lora_B" in k and v != bytes(len(v)) for k, v in adapter.items())  # B starts at 0
    assert all(math.isfinite(r["kl"]) for r in straight.history)

    interrupted = train(config(task, tmp_path / "b", **settings | {"keep_checkpoints": None}))
    shutil.rmtree(interrupted.checkpoint)
    resumed = train(config(task, tmp_path / "b", **settings), resume=True)
    assert adapter_of(resumed.final_dir) == adapter


def adapter_of(folder) -> dict[str, bytes]:
    return {k: v.numpy().tobytes() for k, v in
            load_file(folder / "adapter_model.safetensors").items()}


def test_judge_items_are_scored_by_the_judge_given(task, tmp_path):
    rubric = tmp_path / "judged.rubric"
    rubric.write_text('rubric judged {\n    input letter: text\n'
                      '    check has_letter: contains(response, letter)\n'
                      '    judge polite: "Is polite."\n}\n')
    with pytest.raises(ValueError, match="has judge items"):
        train(config(task, tmp_path, rubric=str(rubric)))
    with pytest.raises(ValueError, match="no judge was given"):
        train(config(task, tmp_path, judge="hf:some/model"))
    result = train(config(task, tmp_path, rubric=str(rubric), steps=1),
                   judge=PinnedJudge({"polite": 0.25}))
    assert result.history[0]["item/polite/mean"] == 0.25


def test_two_processes_under_torchrun_end_with_the_same_weights(task, tmp_path):
    cfg = config(task, tmp_path / "run", prompts_per_step=4, steps=2, scale_rewards="batch",
                 grad_accum=2, updates_per_batch=2)
    (tmp_path / "config.json").write_text(cfg.model_dump_json())
    script = tmp_path / "rank.py"
    script.write_text(textwrap.dedent("""\
        import hashlib, os, sys
        from rubricc.trainer.config import TrainConfig
        from rubricc.trainer.grpo import train

        result = train(TrainConfig.model_validate_json(open(sys.argv[1]).read()))
        digest = hashlib.sha256()
        for name, tensor in sorted(result.model.state_dict().items()):
            digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
        with open(os.path.join(sys.argv[2], f"rank{os.environ['RANK']}.txt"), "w") as f:
            f.write(digest.hexdigest() + "\\n" + str(len(result.history)))
        """))
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node", "2", str(script), str(tmp_path / "config.json"),
                          str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    hashes = [(tmp_path / f"rank{r}.txt").read_text().split("\n") for r in (0, 1)]
    assert hashes[0] == hashes[1] and hashes[0][1] == "2"
    assert weights(tmp_path / "run" / "final") != weights(task / "model")  # rank 0 saved it
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]  # written once, by rank 0
    assert json.loads(lines[0])["item/ascii/ok"] + json.loads(lines[0])["item/ascii/error"] == 16


def test_rng_state_round_trips():
    state = rng_state()
    first = torch.rand(3), random.random()
    set_rng_state(state)
    assert torch.equal(torch.rand(3), first[0]) and random.random() == first[1]
