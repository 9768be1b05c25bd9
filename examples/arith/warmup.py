"""The supervised warm-up: next-token loss on `completion`, so that a randomly initialised model
learns the `<answer>` format, stopped early (`stop`) so that it starts weak at the sums.

The prompt is wrapped the way the GRPO trainer wraps it (`rollout.prompt_texts`), and only the
completion and its EOS are in the loss.
"""

from __future__ import annotations

import random

import torch
from rubricc.trainer.rollout import prompt_texts

IGNORE = -100  # label of a token that is not in the loss


def encode(tokenizer, rows: list[dict]) -> dict[str, torch.Tensor]:
    """Right-padded prompt + completion + EOS; labels only on the completion and EOS."""
    prompts = prompt_texts(tokenizer, [r["prompt"] for r in rows], True, None)
    ids, labels = [], []
    for prompt, row in zip(prompts, rows):
        p = tokenizer(prompt, add_special_tokens=False).input_ids
        c = tokenizer(row["completion"], add_special_tokens=False).input_ids + [tokenizer.eos_token_id]
        ids.append(p + c)
        labels.append([IGNORE] * len(p) + c)
    width = max(map(len, ids))

    def pad(seqs, value):
        return torch.tensor([s + [value] * (width - len(s)) for s in seqs])  # [N, T]

    return {"input_ids": pad(ids, tokenizer.pad_token_id),
            "attention_mask": pad([[1] * len(s) for s in ids], 0),
            "labels": pad(labels, IGNORE)}


def warm_up(model, tokenizer, rows: list[dict], max_steps: int, stop=None, check_every: int = 5,
            batch_size: int = 64, learning_rate: float = 3e-3, seed: int = 0) -> list[float]:
    """Train `model` in place on random batches of `rows` for `max_steps`, or until
    `stop(model, step)`, asked every `check_every` steps, says so; returns each step's loss."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    losses = []
    for step in range(1, max_steps + 1):
        loss = model(**encode(tokenizer, rng.sample(rows, batch_size))).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if stop is not None and step % check_every == 0 and stop(model, step):
            break
    return losses
