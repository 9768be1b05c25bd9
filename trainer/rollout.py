"""Rollouts: sample `num_generations` completions per prompt with transformers `generate`.

One batched call per step: prompts left-padded, sampling with the KV cache, each prompt
expanded to its group by `num_return_sequences`, so rows g*G .. g*G+G-1 answer prompt g.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import GenerationConfig


@dataclass
class Rollouts:
    prompt_ids: torch.Tensor  # [B, P] left-padded, B = prompts x num_generations
    prompt_mask: torch.Tensor  # [B, P] 1 on prompt tokens
    completion_ids: torch.Tensor  # [B, C] C = longest completion (at most max_new_tokens)
    completion_mask: torch.Tensor  # [B, C] 1 up to and including the first EOS
    truncated: torch.Tensor  # [B] bool: no EOS within max_new_tokens
    texts: list[str]  # the decoded completions, special tokens dropped

    @property
    def input_ids(self) -> torch.Tensor:
        return torch.cat([self.prompt_ids, self.completion_ids], dim=1)  # [B, P + C]

    @property
    def attention_mask(self) -> torch.Tensor:
        return torch.cat([self.prompt_mask, self.completion_mask], dim=1)  # [B, P + C]

    @property
    def lengths(self) -> torch.Tensor:
        return self.completion_mask.sum(1)  # [B] completion tokens, EOS included


def prepare_tokenizer(tokenizer):
    tokenizer.padding_side = "left"  # generate appends on the right
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def prompt_texts(tokenizer, prompts: list[str], chat_template: bool,
                 system_prompt: str | None) -> list[str]:
    """The text the model continues: the chat template around each prompt, or the prompt as is."""
    if not (chat_template and tokenizer.chat_template):
        return list(prompts)
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [tokenizer.apply_chat_template(system + [{"role": "user", "content": p}], tokenize=False,
                                          add_generation_prompt=True) for p in prompts]


def eos_ids(model, tokenizer) -> list[int]:
    """Every token that ends a completion: the tokenizer's EOS and the model's generation EOS."""
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    return sorted(set(ids) | {tokenizer.eos_token_id} - {None})


def generate(model, tokenizer, texts: list[str], config, templated: bool,
             greedy: bool = False) -> Rollouts:
    """Sample `config.num_generations` completions for each of `texts` (sampling uses torch's
    global generator, seeded and checkpointed by the trainer); `greedy`: one, the likeliest, which
    draws nothing from the generator."""
    device = next(model.parameters()).device
    enc = tokenizer(texts, return_tensors="pt", padding=True,
                    add_special_tokens=not templated).to(device)  # a template carries its own BOS
    stop = eos_ids(model, tokenizer)
    n = 1 if greedy else config.num_generations
    sampling = {} if greedy else {"temperature": config.temperature, "top_p": config.top_p,
                                  "top_k": config.top_k}
    settings = GenerationConfig(
        do_sample=not greedy, **sampling, repetition_penalty=1.0,
        max_new_tokens=config.max_new_tokens, num_return_sequences=n, eos_token_id=stop,
        pad_token_id=tokenizer.pad_token_id, use_cache=True,
    )
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model.generate(**enc, generation_config=settings)  # [B, P + C]
    model.train(was_training)
    width = enc.input_ids.size(1)
    prompt_ids = enc.input_ids.repeat_interleave(n, dim=0)  # [B, P]
    prompt_mask = enc.attention_mask.repeat_interleave(n, dim=0)
    completion_ids = out[:, width:]  # [B, C]
    mask, truncated = completion_mask(completion_ids, stop)
    lengths = mask.sum(1).tolist()
    texts = tokenizer.batch_decode([row[:n] for row, n in zip(completion_ids.tolist(), lengths)],
                                   skip_special_tokens=True)
    return Rollouts(prompt_ids, prompt_mask, completion_ids, mask, truncated, texts)


def completion_mask(completion_ids: torch.Tensor, stop: list[int]):
    """([B, C] 1 up to and including the first stop token, [B] True where there is none)."""
    is_eos = torch.isin(completion_ids, torch.tensor(stop, device=completion_ids.device))
    has_eos = is_eos.any(dim=1)  # [B]
    first = torch.where(has_eos, is_eos.int().argmax(dim=1), completion_ids.size(1))  # [B]
    positions = torch.arange(completion_ids.size(1), device=completion_ids.device)  # [C]
    return (positions[None, :] <= first[:, None]).long(), ~has_eos
