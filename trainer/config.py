"""`TrainConfig`: every setting of a GRPO run, one docstring per field, read from TOML.

    config = TrainConfig.from_toml("examples/arith/train.toml")
    config = TrainConfig(model="Qwen/Qwen2.5-0.5B-Instruct", rubric="rubrics/math/answer.rubric",
                         data="data/math.jsonl", output_dir="runs/math")

Defaults follow TRL's `GRPOConfig` where TRL has the same setting (loss "dapo", scale_rewards
"group", epsilon 0.2, beta 0, one update per batch). `docs/training.md` lists every field;
`tests/test_trainer.py` checks that it does.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


class LoraConfig(BaseModel):
    """Train a LoRA adapter (through peft) instead of every weight."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    r: int = Field(16, ge=1)
    """Rank of the low-rank update matrices."""
    alpha: float = 32.0
    """Scaling numerator: the update is multiplied by alpha / r."""
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    """Dropout on the adapter's input during updates."""
    target_modules: list[str] | str = "all-linear"
    """Module names to adapt (e.g. ["q_proj", "v_proj"]), or "all-linear"."""


class TrainConfig(BaseModel):
    """A GRPO run against a compiled rubric."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    # ---- what to train, on what ---------------------------------------------------------------
    model: str
    """The policy: a folder or a name for `AutoModelForCausalLM.from_pretrained`."""
    rubric: str
    """The `.rubric` file that scores completions."""
    rubric_name: str | None = None
    """Which rubric, when the file holds several."""
    data: str
    """JSONL prompts: one object per line with `prompt` (text) and the rubric's input columns."""
    output_dir: str = "runs/grpo"
    """Where checkpoints, `metrics.jsonl`, TensorBoard events, the plot and the final model go."""
    judge: str | None = None
    """A judge spec for rubrics with `judge` items (`hf:PATH`, `openai:MODEL@URL`; see
    docs/judges.md), used by `rubricc train` when `--judge` is not given; `train(judge=...)`
    takes the judge object itself."""
    probe_rows: int = Field(8, ge=0)
    """Training rows the rubric is probed on for reward hacks before step 1 (docs/probes.md);
    0 skips the probes."""
    allow_hacks: bool = False
    """Train even when the probes find a hack that the rubric does not declare expected (with a
    warning); by default such a run refuses to start."""

    # ---- rollouts ------------------------------------------------------------------------------
    steps: int = Field(100, ge=1)
    """Training steps; each generates, scores and updates on one batch of prompts."""
    prompts_per_step: int = Field(8, ge=1)
    """Prompts per step over all processes (each process takes an equal share)."""
    num_generations: int = Field(8, ge=2)
    """Completions sampled per prompt: the group whose mean reward is the baseline."""
    max_new_tokens: int = Field(256, ge=1)
    """Longest completion, in tokens; a completion that reaches it is truncated."""
    temperature: float = Field(1.0, gt=0.0)
    """Sampling temperature; log-probabilities in the loss use the same temperature."""
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    """Nucleus sampling: keep the smallest token set with this much probability."""
    top_k: int = Field(0, ge=0)
    """Sample among the k likeliest tokens only; 0 turns it off."""
    chat_template: bool = True
    """Wrap each prompt as a user turn in the tokenizer's chat template (when it has one)."""
    system_prompt: str | None = None
    """A system turn before each prompt, when `chat_template` is on."""

    # ---- the objective -------------------------------------------------------------------------
    loss: Literal["grpo", "dr_grpo", "dapo"] = "dapo"
    """How per-token losses are averaged: per sequence then over sequences ("grpo"), over
    sequences x max_new_tokens ("dr_grpo"), or over all completion tokens in the batch ("dapo")."""
    scale_rewards: Literal["group", "batch", "none"] = "group"
    """Divide advantages by the reward std of the group, of the whole batch, or not at all."""
    epsilon: float = Field(0.2, gt=0.0)
    """Lower clip: the ratio is clipped to at least 1 - epsilon."""
    epsilon_high: float | None = None
    """Upper clip (DAPO's clip-higher): at most 1 + epsilon_high; unset, `epsilon`."""
    beta: float = Field(0.0, ge=0.0)
    """KL penalty to the frozen starting model (k3 estimator). 0 loads no reference model."""
    mask_truncated: bool = False
    """Leave completions that hit `max_new_tokens` out of the loss."""
    updates_per_batch: int = Field(1, ge=1)
    """Optimizer steps on each batch of rollouts (TRL's num_iterations); from the second on, the
    ratio is taken to log-probs computed once before the first."""

    # ---- optimisation --------------------------------------------------------------------------
    learning_rate: float = Field(1e-6, gt=0.0)
    """AdamW learning rate (peak, after warm-up)."""
    weight_decay: float = Field(0.0, ge=0.0)
    """AdamW decoupled weight decay."""
    lr_schedule: Literal["constant", "linear", "cosine"] = "constant"
    """Learning rate after warm-up: constant, or decayed to 0 at the last update."""
    warmup_steps: int = Field(0, ge=0)
    """Optimizer steps of linear warm-up from 0."""
    grad_accum: int = Field(1, ge=1)
    """Split each process's rollouts into this many micro-batches, one backward each."""
    max_grad_norm: float = Field(1.0, ge=0.0)
    """Clip the global gradient norm to this; 0 does not clip (the norm is still logged)."""
    lora: LoraConfig | None = None
    """A `[lora]` table trains a LoRA adapter; absent, every weight is trained."""

    # ---- machinery -----------------------------------------------------------------------------
    seed: int = 0
    """Seeds python, numpy and torch (process i uses seed + i), and the data order."""
    device: str = "auto"
    """"auto" (CUDA when present), "cpu", "cuda" or "cuda:N"; under torchrun each process takes
    cuda:LOCAL_RANK."""
    cpu_threads: int | None = Field(None, ge=1)
    """torch's CPU threads in each process (`torch.set_num_threads`); unset, torch's default (one
    per core; torchrun sets 1 when it starts several processes). Tiny models run fastest on 1:
    threads that wait for each other make every small matrix product slower, most of all on a
    shared machine."""
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    """Weights' dtype when loading the model; "auto" keeps the checkpoint's."""
    save_every: int = Field(50, ge=0)
    """Write a checkpoint every this many steps (and always after the last); 0: only at the end."""
    keep_checkpoints: int | None = Field(None, ge=1)
    """Keep only the newest this many checkpoints; unset, all."""
    log_every: int = Field(1, ge=1)
    """Log metrics (console, metrics.jsonl, TensorBoard) every this many steps."""
    eval_data: str | None = None
    """Held-out prompts, JSONL with the same columns as `data`: every `eval_every` steps and after
    the last, each gets one greedy completion, scored by the rubric and logged with the step as
    `eval/reward/mean`, `eval/reward/valid_frac` and `eval/item/NAME/mean` (main process only)."""
    eval_every: int = Field(50, ge=1)
    """Steps between held-out evaluations (with `eval_data`)."""

    @model_validator(mode="before")
    @classmethod
    def _dr_grpo_needs_max_new_tokens(cls, data):
        # before the fields: an unset max_new_tokens would otherwise only be "not an integer"
        unset = isinstance(data, dict) and data.get("max_new_tokens", 0) is None
        if unset and data.get("loss") == "dr_grpo":
            raise ValueError('loss = "dr_grpo" divides each sequence\'s loss by max_new_tokens, '
                             'so max_new_tokens must be set (a number of tokens), not None')
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        rollouts = self.prompts_per_step * self.num_generations
        if rollouts % self.grad_accum:
            raise ValueError(f"grad_accum ({self.grad_accum}) must divide prompts_per_step x "
                             f"num_generations ({rollouts})")
        return self

    @property
    def clip_high(self) -> float:
        return self.epsilon if self.epsilon_high is None else self.epsilon_high

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read a TOML file. Relative `rubric`, `data` and `output_dir` are taken from the file's
        folder, and so is `model` when that folder holds it (otherwise it is a model name)."""
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: invalid TOML: {exc}") from None
        try:
            config = cls.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"{path}: " + "\n  ".join(_explain(e) for e in exc.errors())) from None
        return config.model_copy(update=_relative_to(path.parent, config))


def _explain(error: dict) -> str:
    where = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        known = _field_names(error["loc"][:-1])
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        return f"unknown field `{where}`{hint}"
    if error["type"] == "missing":
        return f"missing field `{where}`"
    if not where:  # a rule across fields
        return error["msg"].removeprefix("Value error, ")
    return f"field `{where}`: {error['msg']}, got {error['input']!r}"


def _field_names(loc: tuple) -> list[str]:
    return list(LoraConfig.model_fields if loc[:1] == ("lora",) else TrainConfig.model_fields)


def _relative_to(folder: Path, config: TrainConfig) -> dict[str, str]:
    update = {k: str(folder / v) for k in ("rubric", "data", "output_dir", "eval_data")
              if (v := getattr(config, k)) is not None and not Path(v).is_absolute()}
    if not Path(config.model).is_absolute() and (folder / config.model).exists():
        update["model"] = str(folder / config.model)
    return update


def markdown_table() -> str:
    """The fields as docs/training.md lists them (a test keeps the page equal to this)."""
    lines = ["| field | default | meaning |", "| --- | --- | --- |"]
    fields = list(TrainConfig.model_fields.items())
    fields += [(f"lora.{k}", v) for k, v in LoraConfig.model_fields.items()]
    for name, info in fields:
        default = "required" if info.is_required() else _toml(info.default)
        meaning = " ".join((info.description or "").split()).replace("|", "\\|")
        lines.append(f"| `{name}` | {default} | {meaning} |")
    return "\n".join(lines)


def _toml(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"
