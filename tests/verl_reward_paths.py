"""Scores rows through verl's own reward code, with `rubricc.integrations.verl` as the custom
reward function. Run by tests/test_integrations.py in `.venv-verl` (made by `.ci/verl-venv`:
verl cannot share the dev environment), as

    .venv-verl/bin/python tests/verl_reward_paths.py OUT.json < ROWS.json

The test's rows and the `reward_kwargs` (`rubric`, ...) come as JSON on stdin
(`{"rows": [{"prompt", "response", "ground_truth"}], "reward_kwargs": {...}}`). They go through what a
verl trainer does to them: tokenized by a tokenizer that `AutoTokenizer` loads from disk (a byte
level BPE trained here on the rows, so no model hub), packed into a `DataProto` (left-padded
prompts, right-padded responses ending in EOS, the attention mask), then scored by

- `naive`: `verl.workers.reward_manager.NaiveRewardManager` (one call per sample),
- `batch`: `verl.workers.reward_manager.BatchRewardManager` (one batched call),
- `reward_loop`: verl 0.9's default path, `RewardLoopManager.compute_rm_score` (a Ray actor
  `RewardLoopWorker` runs the reward loop's `naive` manager, which runs a sync function in its
  executor) and `extract_reward`,
- `reward_loop_async`: the reward loop's `naive` manager with `compute_score_async` (awaited),

each loading the function the way verl's trainer does (`get_custom_reward_fn`: `pkg://` path,
name, `reward_kwargs`). OUT gets, per path, each row's reward tensor (where it is non-zero and
its value there, the row's last response token) and `reward_extra_info` as lists.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import verl
from omegaconf import OmegaConf
from verl import DataProto
from verl.trainer.ppo.reward import extract_reward, get_custom_reward_fn, load_reward_manager
from verl.workers.reward_manager import BatchRewardManager, NaiveRewardManager

CONFIG = Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"


def tiny_tokenizer(texts: list[str], folder: Path):
    """A byte-level BPE over `texts`, saved and loaded back as a Hugging Face tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<pad>", eos_token="<eos>",
                            clean_up_tokenization_spaces=False).save_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder)


def data_proto(tokenizer, rows: list[dict]) -> DataProto:
    """The batch as verl's rollout leaves it: prompts left-padded, responses right-padded."""
    prompts = [tokenizer.encode(r["prompt"], add_special_tokens=False) for r in rows]
    responses = [tokenizer.encode(r["response"], add_special_tokens=False)
                 + [tokenizer.eos_token_id] for r in rows]
    p_len, r_len = max(map(len, prompts)), max(map(len, responses))
    pad = tokenizer.pad_token_id
    prompt_ids = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompts])  # [B, P]
    response_ids = torch.tensor([r + [pad] * (r_len - len(r)) for r in responses])  # [B, R]
    mask = torch.tensor([[0] * (p_len - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (r_len - len(r))
                         for p, r in zip(prompts, responses)])  # [B, P + R]
    return DataProto.from_dict(
        tensors={"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask,
                 "input_ids": torch.cat([prompt_ids, response_ids], dim=1)},
        non_tensors={"data_source": np.array(["math"] * len(rows), dtype=object),
                     "reward_model": np.array([{"ground_truth": r["ground_truth"], "style": "rule"}
                                               for r in rows], dtype=object),
                     "extra_info": np.array([{"question": r["prompt"]} for r in rows],
                                            dtype=object)})


def config(tokenizer_folder: Path, reward_kwargs: dict, name: str):
    cfg = OmegaConf.load(CONFIG)
    cfg.actor_rollout_ref.model.path = str(tokenizer_folder)
    cfg.reward.num_workers = 1
    cfg.reward.custom_reward_function = {
        "path": "pkg://rubricc.integrations.verl", "name": name,
        "reward_kwargs": reward_kwargs}
    return cfg


def rewards(tensor: torch.Tensor) -> list[list]:
    """Each row's [token index, reward] where its reward tensor is non-zero."""
    return [[[i, row[i].item()] for i in row.nonzero().flatten().tolist()] for row in tensor]


def plain(info) -> dict:
    return {k: [None if isinstance(v, float) and np.isnan(v) else v for v in list(values)]
            for k, values in info.items()}


def legacy(manager, data: DataProto) -> dict:
    out = manager(data, return_dict=True)
    return {"rewards": rewards(out["reward_tensor"]), "extra": plain(out["reward_extra_info"])}


def reward_loop(cfg, data: DataProto) -> dict:
    import ray
    from verl.experimental.reward_loop import RewardLoopManager

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=True,
             runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}})
    try:
        scored = RewardLoopManager(cfg).compute_rm_score(data)
        tensor, info = extract_reward(scored)
        return {"rewards": rewards(tensor), "extra": plain(info)}
    finally:
        ray.shutdown()


def reward_loop_async(cfg, tokenizer, data: DataProto) -> dict:
    """The reward loop's manager, awaited here as `RewardLoopWorker.compute_score_batch` does
    (one task per sample, gathered), without the Ray actor around it."""
    manager = load_reward_manager(cfg, tokenizer)
    assert manager.is_async_reward_score, "verl did not see a coroutine function"

    async def run():
        return await asyncio.gather(*[manager.run_single(data[i:i + 1]) for i in range(len(data))])

    outputs = manager.loop.run_until_complete(run())
    scores = [o["reward_score"] for o in outputs]
    tensor = manager.assemble_rm_scores(data, scores)
    info = {k: [o["reward_extra_info"][k] for o in outputs] for k in outputs[0]["reward_extra_info"]}
    return {"rewards": rewards(tensor), "extra": plain(info)}


def main(out: str) -> None:
    given = json.load(sys.stdin)
    rows, reward_kwargs = given["rows"], given["reward_kwargs"]
    with tempfile.TemporaryDirectory() as folder:
        texts = [r["prompt"] + r["response"] for r in rows]
        tokenizer = tiny_tokenizer(texts, Path(folder))
        decoded = [tokenizer.decode(tokenizer.encode(t, add_special_tokens=False)) for t in texts]
        assert decoded == texts, "the tiny tokenizer does not give the text back"
        data = data_proto(tokenizer, rows)
        sync_cfg = config(Path(folder), reward_kwargs, "compute_score")
        compute = get_custom_reward_fn(sync_cfg)
        got = {"verl": verl.__version__,
               "naive": legacy(NaiveRewardManager(tokenizer, 0, compute), data),
               "batch": legacy(BatchRewardManager(tokenizer, 0, compute), data),
               "reward_loop_async": reward_loop_async(
                   config(Path(folder), reward_kwargs, "compute_score_async"), tokenizer, data),
               "reward_loop": reward_loop(sync_cfg, data),
               "response_ends": [int(m.sum()) - 1 for m in data.batch["attention_mask"][
                   :, data.batch["prompts"].shape[1]:]]}
    Path(out).write_text(json.dumps(got))


if __name__ == "__main__":
    main(sys.argv[1])
