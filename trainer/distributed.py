"""Processes launched by torchrun: which one this is, its device, and the few collectives used.

    torchrun --nproc_per_node 2 -m rubricc.trainer train.toml

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; the process group uses NCCL on CUDA and gloo on
CPU. With one process (no torchrun) nothing is initialised and every collective is the identity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    rank: int
    world: int
    device: torch.device
    owns_group: bool  # this run created the process group, and destroys it at the end

    @property
    def main(self) -> bool:
        return self.rank == 0


def start(device: str) -> Processes:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = _pick_device(device, local_rank if world > 1 else None)
    owns = world > 1 and not dist.is_initialized()
    if owns:
        if chosen.type == "cuda":
            torch.cuda.set_device(chosen)
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return Processes(rank, world, chosen, owns)


def stop(procs: Processes) -> None:
    if procs.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def _pick_device(setting: str, local_rank: int | None) -> torch.device:
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and local_rank is not None:
        setting = f"cuda:{local_rank}"
    return torch.device(setting)


def gather(procs: Processes, tensor: torch.Tensor) -> torch.Tensor:
    """Every process's `tensor` (same shape on all), concatenated along dim 0 in rank order."""
    if procs.world == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(procs.world)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def total(procs: Processes, tensor: torch.Tensor) -> torch.Tensor:
    """The sum of `tensor` over processes."""
    if procs.world == 1:
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor


def total_by_name(procs: Processes, scalars: dict[str, torch.Tensor]) -> dict[str, float]:
    """The sum over processes of each named scalar tensor (all on one device), in one all_reduce
    of them stacked."""
    summed = total(procs, torch.stack([v.float() for v in scalars.values()]))
    return dict(zip(scalars, summed.tolist()))


def gather_objects(procs: Processes, obj) -> list:
    """Every process's picklable `obj`, in rank order."""
    if procs.world == 1:
        return [obj]
    out = [None] * procs.world
    dist.all_gather_object(out, obj)
    return out
