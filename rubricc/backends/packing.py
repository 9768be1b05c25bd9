"""Packed criteria: the K judge prompts about one response, scored in one sequence; and the group
prefix that the packs about several responses to one prompt share, computed once.

The prompts that judge one response against K criteria agree token for token up to the
criterion (the default template puts it last). Instead of K sequences of P + S_k tokens, one
sequence of P + S_1 + ... + S_K tokens, where each suffix restarts its positions after the prefix:

    token      p p p p | a a | b b b | c
    position   0 1 2 3 | 4 5 | 4 5 6 | 4
    segment    0 0 0 0 | 1 1 | 2 2 2 | 3

A token attends to the keys before it that are in the prefix (segment 0) or in its own segment.
Each suffix then sees exactly the tokens, at exactly the positions, that it would see alone, so
the next-token distribution at its last token is the one of its own pass.

The mask is additive and float (0 where a key is seen, -inf where not), in the model's dtype.
transformers' eager attention adds the mask to the scores, so a boolean mask there would add 1 or
0 instead of masking: silently wrong numbers. sdpa takes either kind. Rows are right-padded; a
padding token has segment -1, attends the prefix and the padding before it, and is never seen by
a real token. So no row of the mask is all -inf: softmax over such a row is NaN, and a NaN value
times a zero weight is still NaN in the next layer.

>>> packs = pack_criteria([[7, 8, 9, 1], [7, 8, 9, 2, 3]], owners=[0, 1], max_tokens=100)
>>> packs[0].prefix, packs[0].suffixes
((7, 8, 9), ((1,), (2, 3)))
>>> batch = collate(packs + [alone([5, 6], owner=2)], pad_id=0)
>>> batch.input_ids.tolist(), batch.position_ids.tolist()
([[7, 8, 9, 1, 2, 3], [5, 6, 0, 0, 0, 0]], [[0, 1, 2, 3, 3, 4], [0, 1, 0, 0, 0, 0]])
>>> batch.segments.tolist(), batch.owners
([[0, 0, 0, 1, 2, 2], [1, 1, -1, -1, -1, -1]], [0, 1, 2])
>>> (attention_mask(batch.segments, torch.float32)[0, 0] == 0).int().tolist()
[[1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 1, 0], [1, 1, 1, 0, 1, 1]]

A group prefix: the G responses of a GRPO group answer one prompt, so their packs (one per
response, or more when a pack passes the token budget) agree up to where the response starts:
chat template head, judge template head, the prompt. `share_prefix` cuts that group prefix off
the packs; the caller runs it once (one row, keeping its KV cache) and then the packs' remaining
tokens as batches over that cache, each row's positions continuing after the prefix
(`Pack.start`). The mask gains `cached` columns in front, seen by every token:

    group prefix   p p p      run once; its keys and values repeated for every row
    row 1 token          r s | a | b b
          position       3 4 | 5 | 5 6
          segment        0 0 | 1 | 2 2
    row 2 token          t | c | d
          position       3 | 4 | 4
          segment        0 | 1 | 2

>>> group = pack_criteria([[7, 8, 9, 4, 5, 1], [7, 8, 9, 4, 5, 2, 3]], [0, 1], max_tokens=100)
>>> group += pack_criteria([[7, 8, 9, 6, 1], [7, 8, 9, 6, 2]], [2, 3], max_tokens=100)
>>> prefix, rest = share_prefix(group, min_tokens=3)
>>> prefix, [(p.start, p.prefix, p.suffixes) for p in rest]
((7, 8, 9), [(3, (4, 5), ((1,), (2, 3))), (3, (6,), ((1,), (2,)))])
>>> batch = collate(rest, pad_id=0)
>>> batch.start, batch.position_ids.tolist()
(3, [[3, 4, 5, 5, 6], [3, 4, 4, 0, 0]])
>>> (attention_mask(batch.segments, torch.float32, cached=batch.start)[1, 0] == 0).int().tolist()
[[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 1, 0, 0], [1, 1, 1, 1, 0, 0, 1, 0], [1, 1, 1, 1, 0, 0, 1, 1]]
>>> share_prefix(group, min_tokens=4)[0]  # too short to pay for a pass of its own
()

`rubricc.backends.hf` runs these rows and masks; that they give the numbers of separate passes
was checked on CPU, in float32, with eager and sdpa attention, on tiny random Llama- and
Qwen2-style models (tests/test_hf_judge.py, tests/test_hf_group_prefix.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

PREFIX, PADDING = 0, -1  # segment ids; suffix k (from 1) has segment k


@dataclass(frozen=True)
class Pack:
    """One sequence: a shared prefix, then suffixes that each see the prefix and themselves."""

    prefix: tuple[int, ...]
    suffixes: tuple[tuple[int, ...], ...]
    owners: tuple[int, ...]
    """The caller's index of the prompt that each suffix completes."""
    start: int = 0
    """How many tokens of a group prefix come before the pack, held in a KV cache rather than in
    the pack (`share_prefix`): its positions begin there."""

    @property
    def tokens(self) -> int:
        """The tokens in the pack's own row."""
        return len(self.prefix) + sum(len(s) for s in self.suffixes)

    def positions(self) -> list[int]:
        head = self.start + len(self.prefix)
        return (list(range(self.start, head))
                + [head + i for s in self.suffixes for i in range(len(s))])

    def segments(self) -> list[int]:
        return [PREFIX] * len(self.prefix) + [k for k, s in enumerate(self.suffixes, 1) for _ in s]


def alone(prompt: Sequence[int], owner: int) -> Pack:
    """A prompt in a sequence of its own: the unpacked path."""
    return Pack((), (tuple(prompt),), (owner,))


def common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """The length of the longest common prefix, short of the shortest prompt by one token, so that
    every suffix keeps a last token to read the answer at."""
    return agreed(prompts, min(len(p) for p in prompts) - 1)


def agreed(sequences: Sequence[Sequence[int]], limit: int) -> int:
    """How many leading tokens, at most `limit`, all the sequences agree on."""
    first = sequences[0]
    for n in range(max(limit, 0)):
        if any(s[n] != first[n] for s in sequences):
            return n
    return max(limit, 0)


def pack_criteria(prompts: Sequence[Sequence[int]], owners: Sequence[int],
                  max_tokens: int) -> list[Pack]:
    """Pack the prompts about one response after their common prefix, in as many packs as it
    takes to keep each within `max_tokens` (a pack holds at least one suffix)."""
    n = common_prefix(prompts)
    prefix = tuple(prompts[0][:n])
    packs, suffixes, mine = [], [], []
    for prompt, owner in zip(prompts, owners):
        suffix = tuple(prompt[n:])
        if suffixes and n + sum(map(len, suffixes)) + len(suffix) > max_tokens:
            packs.append(Pack(prefix, tuple(suffixes), tuple(mine)))
            suffixes, mine = [], []
        suffixes.append(suffix)
        mine.append(owner)
    packs.append(Pack(prefix, tuple(suffixes), tuple(mine)))
    return packs


def share_prefix(packs: Sequence[Pack], min_tokens: int) -> tuple[tuple[int, ...], list[Pack]]:
    """The group prefix that all the packs' prefixes begin with, and the packs without it, their
    positions starting after it; or no prefix and the packs as they are, when there is a single
    pack or the group prefix is shorter than `min_tokens`.

    The group prefix stops within the shortest pack prefix: a suffix's tokens are seen by its own
    segment only, so they cannot move into a prefix that every token sees, even where two packs'
    first suffixes happen to begin alike."""
    if len(packs) < 2:
        return (), list(packs)
    n = agreed([p.prefix for p in packs], min(len(p.prefix) for p in packs))
    if n < min_tokens:
        return (), list(packs)
    return packs[0].prefix[:n], [Pack(p.prefix[n:], p.suffixes, p.owners, p.start + n)
                                 for p in packs]


def batches(packs: Sequence[Pack], batch_tokens: int) -> list[list[Pack]]:
    """Group packs, longest first, so that rows x longest row stays within `batch_tokens` (a pack
    longer than that goes alone). A group prefix is not in the rows: it ran in its own pass."""
    ordered = sorted(packs, key=lambda p: p.tokens, reverse=True)
    groups: list[list[Pack]] = []
    for pack in ordered:
        if groups and (len(groups[-1]) + 1) * groups[-1][0].tokens <= batch_tokens:
            groups[-1].append(pack)
        else:
            groups.append([pack])
    return groups


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor  # [B, L] long, right-padded
    position_ids: torch.Tensor  # [B, L] long
    segments: torch.Tensor  # [B, L] long: PREFIX, suffix k >= 1, or PADDING
    answer_at: torch.Tensor  # [B, L] bool: the last token of each suffix
    owners: list[int]  # the owner of each True in answer_at, in row-major order
    start: int = 0  # the tokens of a group prefix before every row, in a KV cache

    @property
    def real_tokens(self) -> int:
        return int((self.segments != PADDING).sum())


def collate(packs: Sequence[Pack], pad_id: int) -> Batch:
    """The packs as right-padded rows. They follow one group prefix or none: one KV cache."""
    if len({p.start for p in packs}) > 1:
        raise ValueError("the packs of one batch follow different group prefixes")
    width = max(p.tokens for p in packs)
    ids = torch.full((len(packs), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(packs), width), dtype=torch.long)
    segments = torch.full((len(packs), width), PADDING, dtype=torch.long)
    answer_at = torch.zeros((len(packs), width), dtype=torch.bool)
    owners: list[int] = []
    for row, pack in enumerate(packs):
        n = pack.tokens
        ids[row, :n] = torch.tensor(pack.prefix + sum(pack.suffixes, ()))
        positions[row, :n] = torch.tensor(pack.positions())
        segments[row, :n] = torch.tensor(pack.segments())
        ends = torch.tensor([len(s) for s in pack.suffixes]).cumsum(0) + len(pack.prefix) - 1
        answer_at[row, ends] = True
        owners.extend(pack.owners)
    return Batch(ids, positions, segments, answer_at, owners, packs[0].start)


def attention_mask(segments: torch.Tensor, dtype: torch.dtype, cached: int = 0) -> torch.Tensor:
    """The additive 4-D mask [B, 1, L, cached + L]: 0 where query q sees key k, -inf elsewhere.
    The first `cached` keys, a group prefix in the KV cache, are seen by every token."""
    rows, width = segments.shape
    causal = torch.ones(width, width, dtype=torch.bool, device=segments.device).tril()
    query, key = segments[:, :, None], segments[:, None, :]  # [B, L, 1], [B, 1, L]
    seen = causal & ((key == PREFIX) | (key == query))  # [B, L, L]
    mask = torch.zeros((rows, width, cached + width), dtype=dtype, device=segments.device)
    mask[:, :, cached:].masked_fill_(~seen, float("-inf"))
    return mask[:, None]
