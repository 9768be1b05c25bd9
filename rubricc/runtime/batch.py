"""`RewardBatch`: what one scoring call returns, as torch tensors plus the per-row details."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from rubricc.runtime.result import RowResult
from rubricc.values import STATUS_CODE, STATUSES


@dataclass
class RewardBatch:
    """values[B, K] and status[B, K] per item, total[B]; NaN wherever nothing was computed.

    `valid[b]` is False when row b's reward could not be computed (an item it needs errored or
    timed out): train on `total[valid]`, never on a silent 0.
    """

    names: list[str]
    values: torch.Tensor  # [B, K] float32, NaN unless status is ok
    status: torch.Tensor  # [B, K] int8, codes in STATUSES order: ok skipped na error timeout
    total: torch.Tensor  # [B] float32, NaN where valid is False
    valid: torch.Tensor  # [B] bool
    rows: list[RowResult]
    timings: dict[str, float] = field(default_factory=dict)  # score_s, heavy_s, judge_s
    counts: dict[str, int] = field(default_factory=dict)  # computed, deduped, heavy_calls, judge_requests

    STATUSES = STATUSES

    @classmethod
    def from_rows(cls, names: list[str], rows: list[RowResult], device=None) -> RewardBatch:
        nan = math.nan
        values = [[_value(r, n) for n in names] for r in rows]
        status = [[STATUS_CODE[r.items[n].status] if n in r.items else STATUS_CODE["na"]
                   for n in names] for r in rows]
        total = [r.total if r.total is not None else nan for r in rows]
        shape = (len(rows), len(names))
        return cls(
            names,
            torch.tensor(values, dtype=torch.float32, device=device).reshape(shape),
            torch.tensor(status, dtype=torch.int8, device=device).reshape(shape),
            torch.tensor(total, dtype=torch.float32, device=device),
            torch.tensor([r.total is not None for r in rows], dtype=torch.bool, device=device),
            rows,
        )

    def __len__(self) -> int:
        return len(self.rows)

    def item(self, name: str) -> torch.Tensor:
        return self.values[:, self.names.index(name)]

    def status_of(self, row: int, name: str) -> str:
        return STATUSES[int(self.status[row, self.names.index(name)])]

    def to(self, device) -> RewardBatch:
        moved = {k: getattr(self, k).to(device) for k in ("values", "status", "total", "valid")}
        return RewardBatch(self.names, rows=self.rows, timings=self.timings, counts=self.counts,
                           **moved)


def _value(row: RowResult, name: str) -> float:
    result = row.items.get(name)
    if result is None or result.value is None:
        return math.nan
    return result.value
