"""Rewards and advantages: score the completions with the compiled rubric, then compare each
completion with the others of its group.

    >>> import torch
    >>> total = torch.tensor([1.0, 0.0, 0.5, float("nan")])  # two groups of two; the last row
    >>> valid = torch.tensor([True, True, True, False])      # could not be scored
    >>> group_advantages(total, valid, num_generations=2, scale="none")
    tensor([ 0.5000, -0.5000,  0.0000,  0.0000])

A row whose reward could not be computed (`valid` False) is left out of its group's mean and
std, and gets advantage 0; the loss mask drops it as well (`keep_mask`).
"""

from __future__ import annotations

import torch

from rubricc.runtime.batch import RewardBatch

STD_FLOOR = 1e-4  # as TRL: a group whose rewards tie has advantage 0, not 0/0


def score(scorer, rows: list[dict], texts: list[str], num_generations: int,
          judge=None) -> RewardBatch:
    """Score completion i against dataset row i // num_generations (its prompt and columns)."""
    repeated = [row for row in rows for _ in range(num_generations)]
    return scorer.score_rows([row | {"response": text} for row, text in zip(repeated, texts)],
                             judge=judge)


def group_advantages(total: torch.Tensor, valid: torch.Tensor, num_generations: int,
                     scale: str) -> torch.Tensor:
    """[N] advantages: reward minus its group's mean, divided by the group's (or the whole
    batch's) std plus 1e-4 unless `scale` is "none"; means and stds over valid rows only."""
    rewards = total.masked_fill(~valid, float("nan")).view(-1, num_generations)  # [groups, G]
    centred = rewards - rewards.nanmean(dim=1, keepdim=True)  # [groups, G]
    if scale == "group":
        centred = centred / (nanstd(rewards) + STD_FLOOR)  # [groups, 1] broadcast
    elif scale == "batch":
        centred = centred / (nanstd(rewards.reshape(1, -1)) + STD_FLOOR)  # [1, 1]
    elif scale != "none":
        raise ValueError(f"scale_rewards must be group, batch or none, not {scale!r}")
    return centred.flatten().nan_to_num(0.0)  # [N]; invalid rows get 0


def nanstd(x: torch.Tensor) -> torch.Tensor:
    """[R, 1] unbiased std of each row over its non-NaN entries; 0 with fewer than two."""
    count = (~x.isnan()).sum(dim=1, keepdim=True)
    deviation = x - x.nanmean(dim=1, keepdim=True)
    return (deviation.pow(2).nansum(dim=1, keepdim=True) / (count - 1).clamp(min=1)).sqrt()


def keep_mask(valid: torch.Tensor, truncated: torch.Tensor, mask_truncated: bool) -> torch.Tensor:
    """[B] rows that enter the loss: scored, and not truncated when `mask_truncated`."""
    return valid & ~truncated if mask_truncated else valid
