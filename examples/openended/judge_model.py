"""The judge: a tiny causal LM taught to answer "yes" or "no" to the rubric's judge prompt.

It reads subwords: a byte-level BPE tokenizer learnt from its own training prompts (a few hundred
tokens, so frequent words are one token each, and any other text still reads, byte by byte), with
a Llama-style model of random weights (trainer/tiny.py's layout). On bytes alone, a model this
small did not learn the property in the minutes the demo allows.

rubricc's `hf` backend reads a verdict as P(yes): the next-token probability mass on tokens that
read as yes ("y", "yes", ...) over the mass on yes and no, right after the chat-templated judge
prompt (rubricc/backends/hf.py). So the judge is trained on exactly that: the prompts the rubric
renders (recorded from the scorer itself, so template, fence and criterion are the real ones),
tokenized by the backend's own `HFJudge.tokenize`, with a cross-entropy loss on the one next
token, "y" or "n". Nothing else of the model is used.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import torch
from rubricc.trainer.tiny import CHAT_TEMPLATE, SPECIALS

from rubricc.backends.hf import HFJudge


class Recorder:
    """A judge that answers 0.5 to everything and keeps the requests it was asked."""

    def __init__(self):
        self.requests = []

    def judge(self, requests):
        self.requests += requests
        return [0.5] * len(requests)


def judge_requests(scorer, rows: list[dict]) -> list:
    """The judge request the rubric makes for each row's `response` (gated or not): one row is
    scored with a recording judge, and its request is copied with each row's prompt and
    response, so the template and criterion are the rubric's own."""
    recorder = Recorder()
    scorer.score_rows([{"prompt": "Write a sentence.", "response": "a sample response here"}],
                      judge=recorder)
    (first,) = recorder.requests
    return [dataclasses.replace(first, prompt=r["prompt"], response=r["response"]) for r in rows]


def subword_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE `PreTrainedTokenizerFast` learnt from `texts`, with tiny.py's specials
    and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>",
                                  eos_token="</s>", unk_token="<unk>")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_judge(path: str | Path, requests: list, vocab_size: int = 512, hidden: int = 64,
                layers: int = 2, seed: int = 0) -> HFJudge:
    """A judge of random weights, with a tokenizer learnt from `requests`' prompts, saved to
    `path` and loaded by rubricc's hf backend."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    tok = subword_tokenizer([r.render() for r in requests], vocab_size)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=8192, tie_word_embeddings=True, pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(config).save_pretrained(path)
    tok.save_pretrained(path)
    return HFJudge(str(path))


def encode(judge: HFJudge, requests: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded token ids [N, T] and attention mask [N, T]: every prompt ends at the last
    position, where the answer is read. (Rotary positions are relative, so the shift that left
    padding gives a prompt's positions changes nothing.)"""
    prompts = judge.tokenize(requests)
    width = max(map(len, prompts))
    ids = torch.tensor([[judge.pad_id] * (width - len(p)) + list(p) for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def train_judge(judge: HFJudge, requests: list, labels: list[bool], steps: int,
                batch_size: int = 32, learning_rate: float = 3e-3, seed: int = 0) -> list[float]:
    """Teach `judge.model`, in place, to answer "y" (label true) or "n" after each request's
    prompt; returns each step's loss."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    yes, no = (judge.tokenizer(w, add_special_tokens=False).input_ids[0] for w in ("yes", "no"))
    ids, mask = encode(judge, requests)
    targets = torch.tensor([yes if label else no for label in labels])
    model = judge.model
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, learning_rate, total_steps=steps,
                                                   pct_start=0.1)
    model.train()
    losses = []
    for _ in range(steps):
        pick = torch.tensor(rng.sample(range(len(requests)), batch_size))
        width = int(mask[pick].sum(1).max())  # the batch's longest prompt
        logits = model(input_ids=ids[pick, -width:], attention_mask=mask[pick, -width:],
                       logits_to_keep=1).logits[:, -1]  # [batch, vocab] at the answer
        loss = torch.nn.functional.cross_entropy(logits, targets[pick])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses
