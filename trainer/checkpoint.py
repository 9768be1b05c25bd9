"""Checkpoints that resume exactly: weights, optimizer, scheduler, every process's RNG, the step
and the data cursor.

    OUTPUT_DIR/checkpoints/step-000050/
        model/               save_pretrained: config + model.safetensors (or the LoRA adapter)
        trainer_state.pt     optimizer, scheduler, RNG states (one per process), step, cursor
        state.json           step, cursor, processes and the config, for people

A checkpoint is written to a hidden temporary folder and renamed into place (`os.replace`), so a
`step-*` folder is always complete; resuming picks the newest.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

STATE = "trainer_state.pt"
PREFIX = "step-"


@dataclass(frozen=True)
class Resumed:
    path: Path
    step: int  # steps completed
    cursor: int  # prompts consumed from the data stream
    state: dict  # trainer_state.pt


def folder(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def path(output_dir: str | Path, step: int) -> Path:
    return folder(output_dir) / f"{PREFIX}{step:06d}"


def save(output_dir: str | Path, step: int, cursor: int, model, optimizer, scheduler,
         rng: list[dict], config, keep: int | None = None) -> Path:
    """Write checkpoint `step` atomically; `rng` holds one `rng_state()` per process."""
    root, final = folder(output_dir), path(output_dir, step)
    tmp = root / f".tmp-{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp / "model")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": rng, "step": step, "cursor": cursor}, tmp / STATE)
    people = {"step": step, "cursor": cursor, "processes": len(rng), "config": config.model_dump()}
    (tmp / "state.json").write_text(json.dumps(people, indent=2) + "\n", encoding="utf-8")
    _replace(tmp, final)
    if keep:
        for old in sorted(root.glob(f"{PREFIX}*"))[:-keep]:
            shutil.rmtree(old)
    return final


def save_model(model, tokenizer, path: Path) -> Path:
    """The trained model (or LoRA adapter) and its tokenizer, written atomically to `path`."""
    tmp = path.with_name(f".tmp-{path.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    _replace(tmp, path)
    return path


def _replace(tmp: Path, final: Path) -> None:
    if final.exists():  # written again: the same step after a resume, or the final model
        stale = final.with_name(f".old-{final.name}")
        shutil.rmtree(stale, ignore_errors=True)
        os.replace(final, stale)
        os.replace(tmp, final)
        shutil.rmtree(stale)
    else:
        os.replace(tmp, final)


def latest(output_dir: str | Path) -> Resumed:
    found = sorted(folder(output_dir).glob(f"{PREFIX}[0-9]*"))
    if not found:
        raise ValueError(f"--resume: no checkpoint under {folder(output_dir)}")
    state = torch.load(found[-1] / STATE, map_location="cpu", weights_only=True)
    return Resumed(found[-1], state["step"], state["cursor"], state)


def restore(resumed: Resumed, optimizer, scheduler, rank: int, world: int) -> None:
    states = resumed.state["rng"]
    if len(states) != world:
        raise ValueError(f"{resumed.path} was written by {len(states)} process(es), not {world}: "
                         f"resume with the same number to continue exactly")
    optimizer.load_state_dict(resumed.state["optimizer"])
    scheduler.load_state_dict(resumed.state["scheduler"])
    set_rng_state(states[rank])


def rng_state() -> dict:
    """This process's generators: python, numpy, torch CPU and every CUDA device."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(), "numpy": [name, keys.tolist(), pos, has_gauss, cached],
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
