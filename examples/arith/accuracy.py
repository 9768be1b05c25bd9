"""Held-out accuracy: greedy answers to problems the model never trained on, scored by the same
rubric that GRPO trains against (a row counts when its reward is 1)."""

from __future__ import annotations

import torch
from rubricc.trainer.rollout import eos_ids, prepare_tokenizer, prompt_texts


def greedy_answers(model, tokenizer, prompts: list[str], max_new_tokens: int = 24,
                   batch_size: int = 256) -> list[str]:
    """The completion greedy decoding gives each prompt, special tokens dropped."""
    prepare_tokenizer(tokenizer)  # left padding
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    texts = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompt_texts(tokenizer, prompts[start:start + batch_size], True, None)
        enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.no_grad():
            out = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens,
                                 eos_token_id=eos_ids(model, tokenizer),
                                 pad_token_id=tokenizer.pad_token_id)  # [N, P + C]
        texts += tokenizer.batch_decode(out[:, enc.input_ids.size(1):], skip_special_tokens=True)
    model.train(was_training)
    return texts


def accuracy(model, tokenizer, rows: list[dict], scorer) -> float:
    """The fraction of `rows` whose greedy answer the rubric scores 1."""
    answers = greedy_answers(model, tokenizer, [r["prompt"] for r in rows])
    batch = scorer.score(responses=answers, answer=[r["answer"] for r in rows])
    return (batch.total == 1.0).float().mean().item()  # NaN (unscorable) counts as wrong
