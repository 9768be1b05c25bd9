"""The in-process transformers judge: verdicts from one forward pass, all criteria of a response
packed into one sequence.

    judge = HFJudge("Qwen/Qwen2.5-7B-Instruct", device="cuda", dtype="bfloat16")
    scorer.score_rows(rows, judge=judge)

No generation: the verdict is read from the next-token distribution at the answer position, as
the probability mass on the vocabulary tokens whose text reads as "yes"/"no" (or "1".."N" for a
Likert item), through `rubricc.backends.verdicts`. The rendered judge prompt is sent as one user
turn through the tokenizer's chat template (with the assistant's turn opened) when it has one,
and as plain text when it does not.

Packing (`packed=True`, the default): the requests about one response (same prompt, response
and template) are tokenized, and their longest common token prefix, the question and the
response, is computed once; every criterion's suffix follows it in the same sequence, with its
own positions and a 4-D mask that hides the other suffixes (see `rubricc.backends.packing`). The
numbers are those of separate passes. Packing needs an attention implementation that applies a
custom additive 4-D mask as given: "eager" and "sdpa". Others are refused rather than run wrong:
FlashAttention takes no 4-D mask; flex_attention would add the mask as a score bias, but could
not be verified here (on the CPU build of torch used, its forward pass aborted). `packed=False`
runs each request as its own sequence with any attention implementation. In a model with
sliding-window layers, the requests about a response are packed only when each fits within the
window (the 4-D mask replaces the model's own windowed masks).

What was run here: CPU only, float32, on tiny random Llama- and Qwen2-style models
(`tests/test_hf_judge.py`, `bench/judge_packing.py`). `device="cuda"` and a bfloat16 `dtype`
follow the same code path and are written for users with a GPU; they are not tested here.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import torch

from rubricc.backends import packing, verdicts
from rubricc.judges import JudgeRequest, JudgeRequired
from rubricc.runtime.values import ERROR, Failed

PACKABLE = ("eager", "sdpa")
"""Attention implementations that apply a custom additive 4-D mask as given."""


class PackingUnsupported(ValueError):
    """This model cannot score packed criteria exactly; `packed=False` can."""


class JudgeUnavailable(JudgeRequired):
    """A lazily loaded judge whose model could not be loaded at its first request."""


class HFJudge:
    """A transformers causal LM as a judge: `judge(requests) -> [P(yes) or rating | Failed]`.

    model: a name or folder for `AutoModelForCausalLM.from_pretrained`, or a loaded model.
    tokenizer: defaults to the one saved with the model.
    device, dtype: where and in what precision to run ("cuda", "bfloat16"); default: as loaded.
    attn_implementation: "sdpa" or "eager" for packing; default: transformers' choice.
    batch_tokens: a forward pass holds at most this many tokens, padding included (a single
        prompt longer than that runs alone). Memory also grows with the 4-D mask, rows x L x L.
    chat_template: wrap the prompt in the tokenizer's chat template when it has one.
    packed: pack the criteria about one response into one sequence.
    lazy: load the model and tokenizer at the first request rather than now, so that a batch
        the verdict cache answers whole never loads them (`load_judge` builds it so).
    """

    def __init__(self, model, tokenizer=None, device=None, dtype=None, attn_implementation=None,
                 batch_tokens: int = 8192, chat_template: bool = True, packed: bool = True,
                 lazy: bool = False):
        self.source = model
        self.given_tokenizer = tokenizer
        self.options = {"device": device, "dtype": dtype,
                        "attn_implementation": attn_implementation}
        self.batch_tokens = batch_tokens
        self.use_chat_template = chat_template
        self.packed = packed
        self.account: Counter = Counter()
        """forwards, tokens (real), padded_tokens, forward_s: what the passes cost so far."""
        self.lazy = lazy
        if not lazy:
            self.answers  # noqa: B018 -- model and tokenizer now, so that a bad one fails here

    # ---- loaded on first use: `lazy=True` waits for the first request the cache cannot answer

    @cached_property
    def model(self):
        with self.loading():
            model = load_model(self.source, **self.options)
            problem = packing_problem(model.config) if self.packed else None
            if problem:
                raise PackingUnsupported(f"{problem}; pass packed=False to run each criterion "
                                         "as its own sequence")
        return model

    @cached_property
    def tokenizer(self):
        if self.given_tokenizer is not None:
            return self.given_tokenizer
        with self.loading():
            return load_tokenizer(self.source, self.model)

    @contextmanager
    def loading(self):
        """A lazy judge's load fails inside scoring: as JudgeRequired, it reaches the caller as
        itself rather than as an error at the rubric line that asked."""
        try:
            yield
        except (OSError, ValueError) as exc:
            if not self.lazy:
                raise
            raise JudgeUnavailable(f"the judge {self.source} cannot be loaded: {exc}") from exc

    @cached_property
    def chat_template(self) -> bool:
        return self.use_chat_template and bool(getattr(self.tokenizer, "chat_template", None))

    @cached_property
    def max_positions(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)

    @cached_property
    def window(self) -> int | None:
        return sliding_window(self.model.config)

    @cached_property
    def pad_id(self) -> int:
        return next((i for i in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id)
                     if i is not None), 0)

    @cached_property
    def answers(self) -> AnswerTokens:
        return AnswerTokens(self.tokenizer)

    # ---- the Judge protocol --------------------------------------------------------------------

    def judge(self, requests: list[JudgeRequest]) -> list[float | Failed]:
        prompts = self.tokenize(requests)
        first: dict[tuple[int, ...], int] = {}  # identical prompts are scored once
        for i, prompt in enumerate(prompts):
            first.setdefault(prompt, i)
        results: list[float | Failed | None] = [self.refuse(p) for p in prompts]
        todo = [i for i, p in enumerate(prompts) if first[p] == i and results[i] is None]
        packed, plain = self.plan(requests, prompts, todo)
        for packs, four_d in ((packed, True), (plain, False)):
            for group in packing.batches(packs, self.batch_tokens):
                batch = packing.collate(group, self.pad_id)
                for owner, probs in zip(batch.owners, self.next_token_probs(batch, four_d)):
                    results[owner] = self.answers.verdict(probs, requests[owner].scale)
        return [results[first[p]] for p in prompts]

    def tokenize(self, requests: list[JudgeRequest]) -> list[tuple[int, ...]]:
        """The token ids of each rendered prompt, in one call to the tokenizer."""
        if not requests:
            return []
        texts = [r.render() for r in requests]
        if self.chat_template:
            texts = self.tokenizer.apply_chat_template(
                [[{"role": "user", "content": t}] for t in texts], tokenize=False,
                add_generation_prompt=True)
        ids = self.tokenizer(texts, add_special_tokens=not self.chat_template).input_ids
        return [tuple(i) for i in ids]

    def refuse(self, prompt: tuple[int, ...]) -> Failed | None:
        if not prompt:
            return Failed(ERROR, "the judge prompt is empty")
        if self.max_positions is not None and len(prompt) > self.max_positions:
            return Failed(ERROR, f"the judge prompt is {len(prompt)} tokens, more than the "
                                 f"{self.max_positions} positions of the judge model")
        return None

    def plan(self, requests, prompts, todo: list[int]):
        """Packs of the criteria about one response (more than one when they pass batch_tokens),
        and the prompts that go alone: all of them when `packed=False`."""
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i in todo:
            r = requests[i]
            groups[(r.prompt, r.response, r.template)].append(i)
        packed, plain = [], []
        for owners in groups.values():
            mine = [prompts[i] for i in owners]
            if self.packed and self.fits_window(mine):
                packed += packing.pack_criteria(mine, owners, self.batch_tokens)
            else:
                plain += [packing.alone(p, i) for p, i in zip(mine, owners)]
        return packed, plain

    def fits_window(self, prompts) -> bool:
        return self.window is None or max(map(len, prompts)) <= self.window

    # ---- the forward pass ----------------------------------------------------------------------

    @torch.inference_mode()
    def next_token_probs(self, batch: packing.Batch, four_d: bool) -> torch.Tensor:
        """The next-token distribution at each answer position: [answers, vocab] float32.

        Packs take the 4-D mask; prompts alone take a plain padding mask, from which the model
        builds its own masks (sliding windows included)."""
        started = time.perf_counter()  # the mask is part of the cost
        device = self.model.device
        segments = batch.segments.to(device)
        if four_d:
            mask = packing.attention_mask(segments, self.model.dtype)  # [B, 1, L, L]
        else:
            mask = (segments != packing.PADDING).long()  # [B, L]
        answer_at = batch.answer_at.to(device)
        logits = self.model(input_ids=batch.input_ids.to(device), attention_mask=mask,
                            position_ids=batch.position_ids.to(device),
                            logits_to_keep=answer_at, use_cache=False).logits
        if logits.ndim == 3:  # a model that computes logits at every position
            logits = logits[answer_at]
        probs = torch.softmax(logits.float(), dim=-1).cpu()
        self.account.update(forwards=1, tokens=batch.real_tokens,
                          padded_tokens=batch.input_ids.numel(),
                          forward_s=time.perf_counter() - started)
        return probs


class AnswerTokens:
    """The vocabulary ids whose text reads as each answer word, decoded once per tokenizer.

    A Likert rating must be one token: true of "1".."9" in every tokenizer in common use.
    """

    def __init__(self, tokenizer):
        self.texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        self.by_scale: dict[int | None, dict[str, torch.Tensor]] = {}

    def ids(self, scale: int | None) -> dict[str, torch.Tensor]:
        if scale not in self.by_scale:
            words: dict[str, list[int]] = defaultdict(list)
            for i, text in enumerate(self.texts):
                word = verdicts.answer_word(text, scale)
                if word is not None:
                    words[word].append(i)
            self.by_scale[scale] = {w: torch.tensor(ids) for w, ids in words.items()}
        return self.by_scale[scale]

    def verdict(self, probs: torch.Tensor, scale: int | None) -> float | Failed:
        mass = {word: float(probs[ids].sum()) for word, ids in self.ids(scale).items()}
        return verdicts.verdict(mass, scale)


def load_model(model, device, dtype, attn_implementation):
    from transformers import AutoModelForCausalLM

    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if isinstance(model, (str, Path)):
        options = {"dtype": dtype, "attn_implementation": attn_implementation}
        model = AutoModelForCausalLM.from_pretrained(
            str(model), **{k: v for k, v in options.items() if v is not None})
    else:
        if attn_implementation is not None:
            model.set_attn_implementation(attn_implementation)
        if dtype is not None:
            model = model.to(dtype)
    if device is not None:
        model = model.to(device)
    return model.eval()


def load_tokenizer(name, model):
    from transformers import AutoTokenizer

    source = name if isinstance(name, (str, Path)) else model.config.name_or_path
    if not source:
        raise ValueError("this model was not loaded from a folder or name: pass tokenizer=")
    return AutoTokenizer.from_pretrained(str(source))


def packing_problem(config) -> str | None:
    """Why this model cannot score packed criteria exactly, or None."""
    attn = config._attn_implementation
    if attn not in PACKABLE:
        return (f"attention implementation {attn!r} cannot take packed criteria: it does not "
                f"apply a custom 4-D mask as given (packing supports {' and '.join(PACKABLE)})")
    odd = sorted(set(getattr(config, "layer_types", None) or ())
                 - {"full_attention", "sliding_attention"})
    if odd:
        return f"layers of type {', '.join(odd)} do not take a 4-D attention mask"
    return None


def sliding_window(config) -> int | None:
    """The smallest attention window of the model's layers, or None when every layer sees all."""
    layer_types = getattr(config, "layer_types", None)
    windowed = "sliding_attention" in layer_types if layer_types else True
    window = getattr(config, "sliding_window", None)
    return window if windowed and window else None
