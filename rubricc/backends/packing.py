"""Packed criteria: the K judge prompts about one response, scored in one sequence.

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

    @property
    def tokens(self) -> int:
        return len(self.prefix) + sum(len(s) for s in self.suffixes)

    def positions(self) -> list[int]:
        start = len(self.prefix)
        return list(range(start)) + [start + i for s in self.suffixes for i in range(len(s))]

    def segments(self) -> list[int]:
        return [PREFIX] * len(self.prefix) + [k for k, s in enumerate(self.suffixes, 1) for _ in s]


def alone(prompt: Sequence[int], owner: int) -> Pack:
    """A prompt in a sequence of its own: the unpacked path."""
    return Pack((), (tuple(prompt),), (owner,))


def common_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """The length of the longest common prefix, short of the shortest prompt by one token, so that
    every suffix keeps a last token to read the answer at."""
    limit = min(len(p) for p in prompts) - 1
    first = prompts[0]
    for n in range(limit):
        if any(p[n] != first[n] for p in prompts):
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


def batches(packs: Sequence[Pack], batch_tokens: int) -> list[list[Pack]]:
    """Group packs, longest first, so that rows x longest row stays within `batch_tokens` (a pack
    longer than that goes alone)."""
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

    @property
    def real_tokens(self) -> int:
        return int((self.segments != PADDING).sum())


def collate(packs: Sequence[Pack], pad_id: int) -> Batch:
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
    return Batch(ids, positions, segments, answer_at, owners)


def attention_mask(segments: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The additive 4-D mask [B, 1, L, L]: 0 where query q sees key k, -inf elsewhere."""
    width = segments.shape[1]
    causal = torch.ones(width, width, dtype=torch.bool, device=segments.device).tril()
    query, key = segments[:, :, None], segments[:, None, :]  # [B, L, 1], [B, 1, L]
    seen = causal & ((key == PREFIX) | (key == query))  # [B, L, L]
    mask = torch.zeros(seen.shape, dtype=dtype, device=segments.device)
    return mask.masked_fill_(~seen, float("-inf"))[:, None]
