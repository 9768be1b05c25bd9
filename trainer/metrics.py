"""What a run reports, with no user code: per-step metrics to the console (rich), to
`metrics.jsonl` and to TensorBoard, and at the end `rewards.png`, one reward curve per item
(each step faint, a moving average on top).

Metric names (one flat dict per logged step, `step` included):

    reward/mean reward/std reward/valid_frac reward/group_std reward/zero_std_frac
    item/NAME/mean item/NAME/ok item/NAME/skipped item/NAME/na item/NAME/error item/NAME/timeout
    completion/length_mean completion/length_max completion/truncated_frac
    hack/several_answers_frac hack/loop_frac hack/refusal_frac hack/empty_frac
    hack/truncated_frac hack/length_growth (mean length over the first logged step's)
    loss clip_frac clip_low_frac clip_high_frac ratio_mean kl entropy grad_norm lr
    time/generate_s time/score_s time/update_s time/step_s
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from matplotlib.figure import Figure
from rich.console import Console
from torch.utils.tensorboard import SummaryWriter

from rubricc.probes.signatures import SIGNATURES
from rubricc.values import STATUSES

from .rewards import nanstd

METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "rewards.png"
TENSORBOARD_DIR = "tensorboard"


def reward_metrics(names: list[str], values: torch.Tensor, status: torch.Tensor,
                   total: torch.Tensor, valid: torch.Tensor, lengths: torch.Tensor,
                   truncated: torch.Tensor, num_generations: int,
                   hacks: torch.Tensor | None = None) -> dict[str, float]:
    """Rewards of the whole step (all processes): values/status [N, K], hack signature flags
    [N, S] (in the order of `SIGNATURES`), the rest [N]."""
    scored = total[valid]
    groups = total.masked_fill(~valid, float("nan")).view(-1, num_generations)  # [groups, G]
    group_std = nanstd(groups).squeeze(1)  # [groups]
    m = {
        "reward/mean": _mean(scored),
        "reward/std": scored.std().item() if scored.numel() > 1 else 0.0,
        "reward/valid_frac": valid.float().mean().item(),
        "reward/group_std": group_std.mean().item(),
        "reward/zero_std_frac": (group_std < 1e-6).float().mean().item(),  # groups with no signal
    }
    for k, name in enumerate(names):
        m[f"item/{name}/mean"] = _mean(values[:, k][~values[:, k].isnan()])
        for code, label in enumerate(STATUSES):
            m[f"item/{name}/{label}"] = int((status[:, k] == code).sum())
    lengths = lengths.float()
    m |= {"completion/length_mean": lengths.mean().item(),
          "completion/length_max": lengths.max().item(),
          "completion/truncated_frac": truncated.float().mean().item()}
    if hacks is not None:
        m |= {f"hack/{name}_frac": hacks[:, i].float().mean().item()
              for i, name in enumerate(SIGNATURES)}
        m["hack/truncated_frac"] = m["completion/truncated_frac"]
    return m


def _mean(x: torch.Tensor) -> float:
    return x.float().mean().item() if x.numel() else math.nan


class RunLog:
    """The run's logs; only the main process writes. On resume the earlier steps are kept (and
    any logged after the checkpoint dropped), so the history and the plot cover the whole run."""

    def __init__(self, output_dir: str | Path, main: bool, steps: int, resumed_step: int | None):
        self.dir = Path(output_dir)
        self.main, self.steps = main, steps
        self.path = self.dir / METRICS_FILE
        self.history: list[dict] = []
        if resumed_step is not None and self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            self.history = [r for r in map(json.loads, lines) if r["step"] <= resumed_step]
        self.console = Console(highlight=False, soft_wrap=True)  # one line per step, in files too
        self.writer = None
        if main:
            self.dir.mkdir(parents=True, exist_ok=True)
            self.path.write_text("".join(json.dumps(r) + "\n" for r in self.history),
                                 encoding="utf-8")
            purge = None if resumed_step is None else resumed_step + 1
            self.writer = SummaryWriter(str(self.dir / TENSORBOARD_DIR), purge_step=purge)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        record = {"step": step} | {k: _plain(v) for k, v in metrics.items()}
        first = next((r["completion/length_mean"] for r in self.history
                      if r.get("completion/length_mean")), record.get("completion/length_mean"))
        if first and record.get("completion/length_mean") is not None:
            record["hack/length_growth"] = record["completion/length_mean"] / first
        self.history.append(record)
        if not self.main:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        for key, value in record.items():
            if key != "step" and value is not None:
                self.writer.add_scalar(key, value, step)
        self.console.print(console_line(record, self.steps), markup=False)

    def close(self) -> Path | None:
        if not self.main:
            return None
        self.writer.close()
        return plot(self.history, self.dir / PLOT_FILE)


def _plain(value) -> float | int | None:
    value = value.item() if isinstance(value, torch.Tensor) else value
    return None if isinstance(value, float) and math.isnan(value) else value


def console_line(r: dict, steps: int) -> str:
    def f(key: str, fmt: str = ".3f") -> str:
        return "-" if r.get(key) is None else format(r[key], fmt)

    items = " ".join(f"{k[5:-5]} {f(k)}" for k in r if k.startswith("item/") and k.endswith("/mean"))
    return (f"step {r['step']}/{steps}  reward {f('reward/mean')} ±{f('reward/std')} "
            f"valid {f('reward/valid_frac', '.2f')} | {items} | len {f('completion/length_mean', '.1f')} "
            f"trunc {f('completion/truncated_frac', '.2f')} | loss {f('loss', '.4f')} "
            f"clip {f('clip_frac')} kl {f('kl', '.4f')} ent {f('entropy', '.2f')} | "
            f"hacks multi {f('hack/several_answers_frac', '.2f')} loop {f('hack/loop_frac', '.2f')} "
            f"len x{f('hack/length_growth', '.2f')} | "
            f"gen {f('time/generate_s', '.2f')}s score {f('time/score_s', '.2f')}s "
            f"update {f('time/update_s', '.2f')}s"
            + (f" | held-out reward {f('eval/reward/mean')}" if "eval/reward/mean" in r else ""))


def plot(history: list[dict], path: Path) -> Path:
    """`path`: the mean reward and each item's mean against the step, each step's value faint and
    its moving average (over a twentieth of the run) on top."""
    keys = ["reward/mean"] + sorted({k for r in history for k in r
                                     if k.startswith("item/") and k.endswith("/mean")})
    hack_keys = sorted({k for r in history for k in r if k.startswith("hack/") and k.endswith("_frac")})
    keys += ["hacks"] if hack_keys else []
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(4.5 * cols, 3 * rows))  # no pyplot: no backend, no global figure
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, key in zip(axes.flat, keys):
        if key == "hacks":
            draw_signatures(ax, history, hack_keys)
            continue
        points = [(r["step"], r[key]) for r in history if r.get(key) is not None]
        draw_curve(ax, [p[0] for p in points], [p[1] for p in points])
        ax.set_title("reward" if key == "reward/mean" else key[5:-5])
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def draw_signatures(ax, history: list[dict], keys: list[str]) -> None:
    """One panel of hack signatures: the share of completions showing each, per step."""
    for key in keys:
        points = [(r["step"], r[key]) for r in history if r.get(key) is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], label=key[5:-5].replace("_", " "))
    ax.set_title("hack signatures (share of completions)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left")
    growth = [(r["step"], r["hack/length_growth"]) for r in history if r.get("hack/length_growth")]
    if growth:
        right = ax.twinx()
        right.plot([p[0] for p in growth], [p[1] for p in growth], color="black", linestyle="--",
                   label="length growth (right)")
        right.set_ylabel("mean length / first step's")
        right.legend(fontsize="x-small", loc="upper right")


def draw_curve(ax, steps: list[int], values: list[float]) -> None:
    """A noisy per-step curve on matplotlib axes `ax`: each step faint, and its moving average
    over a twentieth of the run on top."""
    window = max(1, len(values) // 20)
    line, = ax.plot(steps, values, alpha=0.3 if window > 1 else 1.0,
                    marker="." if len(values) < 30 else None, label="per step")
    if window > 1:
        ax.plot(steps, moving_average(values, window), color=line.get_color(),
                label=f"mean of {window} steps")
        ax.legend(fontsize="small")


def moving_average(values: list[float], window: int) -> list[float]:
    """The mean of each value and the `window - 1` before it (fewer at the start)."""
    sums = [0.0]
    for v in values:
        sums.append(sums[-1] + v)
    return [(sums[i + 1] - sums[max(0, i + 1 - window)]) / (i + 1 - max(0, i + 1 - window))
            for i in range(len(values))]
