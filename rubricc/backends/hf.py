"""The in-process transformers judge: verdicts from one forward pass, all criteria of a response
packed into one sequence, the prompt of a GRPO group computed once for all its responses.

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

Group prefix (`share_prefix=True`, the default, with packing): the G responses of a GRPO group
answer one prompt, so the packs about them (same prompt and template) agree token for token up
to where the response starts: chat template head, judge template head, the prompt. When that
group prefix is at least `MIN_SHARED_PREFIX` tokens and more than one pack follows it, it runs
once (one row, `use_cache=True`, into a `DynamicCache`); then the packs' remaining tokens (the
rest of the response, the criteria) run as batches over that cache, repeated once per row into a
fresh cache for each batch (the forward pass appends to the cache it is given), positions going
on after the prefix and a 4-D mask [B, 1, L, P + L] whose first P columns every token sees (see
`packing.share_prefix`). The numbers are again those of separate passes. A group's packs are
batched together and apart from other packs: one cache per batch. The account counts the prefix
once, as the one-row pass that computes it; `batch_tokens` bounds the rows that run after it,
rows x longest row, without it, while each row's keys and values hold it: a batch after a group
prefix of P tokens also holds rows x P cached keys and values. In a sliding-window model, groups exist only where packs do, so
every prompt fits the window, and the cache is built without the model's config, so no layer
drops keys that fall out of its window.

What was run here: CPU only, float32, eager and sdpa, on tiny random Llama- and Qwen2-style
models, within transformers 5.25 (`tests/test_hf_judge.py`, `tests/test_hf_group_prefix.py`,
`bench/judge_packing.py`, `bench/judge_rubric.py`). `device="cuda"` and a bfloat16 `dtype` follow
the same code path and are written for users with a GPU; they are not tested here.
"""

from __future__ import annotations

import inspect
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import torch

from rubricc.backends import packing, verdicts
from rubricc.judges import JudgeRequest, JudgeRequired
from rubricc.values import ERROR, Failed

PACKABLE = ("eager", "sdpa")
"""Attention implementations that apply a custom additive 4-D mask as given."""

MIN_SHARED_PREFIX = 64
"""The shortest group prefix worth a forward pass of its own (`share_prefix`). The chat and judge
template heads alone are about 40 tokens; a prefix that short saves little (7 x 40 tokens over 8
packs of about 700), and the extra pass, the cache copies and batches that cannot mix prompts
cost about as much: on bench/judge_rubric.py's tiny model on CPU, prefixes of 41-93 tokens over 8
responses were neither faster nor slower beyond the noise, 146 tokens 1.4x faster; the bench's
groups of 8 responses to prompts of 300-400 and 600-700 tokens ran 1.35x and 1.52x faster."""


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
        prompt longer than that runs alone). Memory also grows with the 4-D mask, rows x L x L,
        and after a group prefix of P tokens, rows x L x (P + L) and rows x P cached keys.
    chat_template: wrap the prompt in the tokenizer's chat template when it has one.
    packed: pack the criteria about one response into one sequence.
    share_prefix: with `packed`, run the prefix that the packs of one prompt and template share
        (a GRPO group's responses) once, and their packs over its KV cache; only where that
        prefix is at least `MIN_SHARED_PREFIX` tokens and more than one pack follows it.
    lazy: load the model and tokenizer at the first request rather than now, so that a batch
        the verdict cache answers whole never loads them (`load_judge` builds it so).
    """

    def __init__(self, model, tokenizer=None, device=None, dtype=None, attn_implementation=None,
                 batch_tokens: int = 8192, chat_template: bool = True, packed: bool = True,
                 share_prefix: bool = True, lazy: bool = False):
        self.source = model
        self.given_tokenizer = tokenizer
        self.options = {"device": device, "dtype": dtype,
                        "attn_implementation": attn_implementation}
        self.batch_tokens = batch_tokens
        self.use_chat_template = chat_template
        self.packed = packed
        self.share_prefix = share_prefix
        self.account: Counter = Counter()
        """forwards, tokens (real), padded_tokens, forward_s: what the passes cost so far. A group
        prefix counts once, as the one-row pass that computes it."""
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

    @cached_property
    def cache_keyword(self) -> str:
        """The forward argument that takes a KV cache: transformers 5 renamed `past_key_values`
        to `cache` (the old name is deprecated), and `transformers>=5` spans both."""
        parameters = inspect.signature(self.model.forward).parameters
        return "cache" if "cache" in parameters else "past_key_values"

    # ---- the Judge protocol --------------------------------------------------------------------

    def judge(self, requests: list[JudgeRequest]) -> list[float | Failed]:
        prompts = self.tokenize(requests)
        first: dict[tuple[int, ...], int] = {}  # identical prompts are scored once
        for i, prompt in enumerate(prompts):
            first.setdefault(prompt, i)
        results: list[float | Failed | None] = [self.refuse(p) for p in prompts]
        todo = [i for i, p in enumerate(prompts) if first[p] == i and results[i] is None]
        shared, packed, plain = self.plan(requests, prompts, todo)
        runs = [((), packed, True), ((), plain, False)]
        runs += [(prefix, packs, True) for prefix, packs in shared]
        for prefix, packs, four_d in runs:
            prefix_kv = self.prefix_cache(prefix) if prefix else None
            for group in packing.batches(packs, self.batch_tokens):
                batch = packing.collate(group, self.pad_id)
                probs = self.next_token_probs(batch, four_d, prefix_kv)
                for owner, row in zip(batch.owners, probs):
                    results[owner] = self.answers.verdict(row, requests[owner].scale)
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
        """Packs of the criteria about one response, or about one `judge relative` group (more
        than one when they pass batch_tokens), as (group prefix, packs after it) for each prompt
        and template whose packs share a long enough prefix, and as a list for the rest; and the
        prompts that go alone: all of them when `packed=False`."""
        groups: dict[tuple, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i in todo:
            r = requests[i]
            # a relative group's requests differ only in the question after the listing
            groups[(r.prompt, r.template)][r.group or r.response].append(i)
        shared, packed, plain = [], [], []
        for by_response in groups.values():
            packs = []
            for owners in by_response.values():
                mine = [prompts[i] for i in owners]
                if self.packed and self.fits_window(mine):
                    packs += packing.pack_criteria(mine, owners, self.batch_tokens)
                else:
                    plain += [packing.alone(p, i) for p, i in zip(mine, owners)]
            prefix, packs = (packing.share_prefix(packs, MIN_SHARED_PREFIX) if self.share_prefix
                             else ((), packs))
            if prefix:
                shared.append((prefix, packs))
            else:
                packed += packs
        return shared, packed, plain

    def fits_window(self, prompts) -> bool:
        return self.window is None or max(map(len, prompts)) <= self.window

    # ---- the forward pass ----------------------------------------------------------------------

    @torch.inference_mode()
    def prefix_cache(self, prefix: tuple[int, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The keys and values [1, heads, P, head_dim] of each layer over a group prefix: one
        pass, one row, the model's own causal mask. No logits are needed but the model computes
        at least one; it is the cheapest to keep."""
        from transformers import DynamicCache

        started = time.perf_counter()
        device = self.model.device
        cache = DynamicCache()  # no config: every layer keeps all its keys
        self.model(input_ids=torch.tensor([prefix], device=device),
                   position_ids=torch.arange(len(prefix), device=device)[None],
                   use_cache=True, logits_to_keep=1, **{self.cache_keyword: cache})
        self.account.update(forwards=1, tokens=len(prefix), padded_tokens=len(prefix),
                            forward_s=time.perf_counter() - started)
        return [(layer.keys, layer.values) for layer in cache.layers]

    def repeated(self, prefix_kv, rows: int):
        """A fresh cache holding the group prefix once per row. The forward pass appends the
        batch's keys to the cache it is given, so each batch gets its own: the prefix's tensors
        are only read, never changed."""
        from transformers import DynamicCache

        cache = DynamicCache()
        for layer, (keys, values) in enumerate(prefix_kv):
            cache.update(keys.expand(rows, -1, -1, -1), values.expand(rows, -1, -1, -1), layer)
        return cache

    @torch.inference_mode()
    def next_token_probs(self, batch: packing.Batch, four_d: bool,
                         prefix_kv=None) -> torch.Tensor:
        """The next-token distribution at each answer position: [answers, vocab] float32.

        Packs take the 4-D mask; prompts alone take a plain padding mask, from which the model
        builds its own masks (sliding windows included). Packs after a group prefix take its
        cache, repeated per row, and a mask whose first columns, the prefix, every token sees."""
        started = time.perf_counter()  # the mask and the cache copy are part of the cost
        device = self.model.device
        segments = batch.segments.to(device)
        if four_d:
            mask = packing.attention_mask(segments, self.model.dtype, cached=batch.start)
        else:
            mask = (segments != packing.PADDING).long()  # [B, L]
        cache = {}
        if prefix_kv is not None:
            cache = {self.cache_keyword: self.repeated(prefix_kv, len(segments))}
        answer_at = batch.answer_at.to(device)
        logits = self.model(input_ids=batch.input_ids.to(device), attention_mask=mask,
                            position_ids=batch.position_ids.to(device),
                            logits_to_keep=answer_at, use_cache=bool(cache), **cache).logits
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
