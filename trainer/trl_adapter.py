"""A compiled rubric as TRL reward functions: one per item, so TRL logs every item's curve, and
one for the rubric's score, which is the reward TRL trains on.

    from trl import GRPOConfig, GRPOTrainer
    from rubricc.trainer.trl_adapter import trl_rewards

    rewards = trl_rewards("rubrics/arith/answer.rubric")
    trainer = GRPOTrainer(model, reward_funcs=rewards.funcs, train_dataset=dataset,
                          args=GRPOConfig(reward_weights=rewards.weights, ...))

TRL sums `weight * reward` over the functions. A rubric's score is not in general such a sum (a
gate's fail value, `score = correct`, `min(...)`, clipping), so each item's function has weight 0
(logged as `rewards/ITEM/mean`, never added) and the `score` function, weight 1, carries the
rubric's own total. The batch is scored once, on the first function TRL calls; the others read
the same `RewardBatch`.

A row whose reward could not be computed (an item errored or timed out) is None in every
function, so that TRL masks it (advantage 0, out of its group's baseline) instead of reading 0.
An item with no value on a row (skipped behind a failed gate, another route's item) is None in
that item's function only.

`trl_rewards(..., asynchronous=True)` gives coroutine functions instead: TRL (1.x) awaits its
async reward functions together on its own event loop (`asyncio.gather` in
`GRPOTrainer._calculate_rewards`), so the batch is scored once, in a worker thread, while the
loop stays free for other async reward functions (a remote judge, a sandbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rubricc.pipeline import compile as compile_rubric
from rubricc.runtime.batch import RewardBatch
from rubricc.scorer import Scorer

SCORE = "score"  # the name TRL logs the rubric's total under: rewards/score/mean


@dataclass
class TrlRewards:
    """`funcs` and `weights` for `GRPOTrainer(reward_funcs=...)` and `GRPOConfig(reward_weights=...)`;
    `last` is the most recent `RewardBatch`, with statuses and timings; `scored_batches` and
    `score_seconds` count the scoring calls and their time."""

    scorer: Scorer
    judge: object | None = None
    funcs: list[Callable] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    last: RewardBatch | None = None
    scored_batches: int = 0
    score_seconds: float = 0.0
    _key: tuple | None = None
    asynchronous: bool = False
    _pending: asyncio.Future | None = None

    def __post_init__(self):
        for k, name in enumerate(self.scorer.names):
            self.funcs.append(self._reader(name, lambda batch, k=k: batch.values[:, k]))
            self.weights.append(0.0)
        self.funcs.append(self._reader(SCORE, lambda batch: batch.total))
        self.weights.append(1.0)

    @property
    def names(self) -> list[str]:
        return [f.__name__ for f in self.funcs]

    def _reader(self, name: str, column: Callable[[RewardBatch], object]) -> Callable:
        def read(batch: RewardBatch) -> list[float | None]:
            ok = batch.valid.tolist()
            return [v if good and v == v else None  # v != v: NaN, no value on this row
                    for v, good in zip(column(batch).tolist(), ok)]

        def reward(prompts, completions, **kwargs) -> list[float | None]:
            return read(self.batch(prompts, completions, kwargs))

        async def reward_async(prompts, completions, **kwargs) -> list[float | None]:
            return read(await self.batch_async(prompts, completions, kwargs))

        chosen = reward_async if self.asynchronous else reward
        chosen.__name__ = chosen.__qualname__ = name
        return chosen

    def batch(self, prompts: list, completions: list, kwargs: dict) -> RewardBatch:
        """The `RewardBatch` of these rows: scored on the first call, reused while TRL asks the
        other functions about the same rows."""
        columns = {k: list(kwargs[k]) for k in self.scorer.inputs if k in kwargs}
        key = (list(prompts), list(completions), columns)
        if self.last is None or key != self._key:
            self.last = self.scorer.score(**rows_for_rubric(prompts, completions, columns),
                                          judge=self.judge)
            self._key = key
            self.scored_batches += 1
            self.score_seconds += self.last.timings.get("score_s", 0.0)
        return self.last

    async def batch_async(self, prompts: list, completions: list, kwargs: dict) -> RewardBatch:
        """`batch` for the async functions: the first of TRL's concurrent calls on these rows
        starts the scoring in a worker thread, the others await the same result."""
        columns = {k: list(kwargs[k]) for k in self.scorer.inputs if k in kwargs}
        key = (list(prompts), list(completions), columns)
        if self._pending is None or key != self._key:
            self._key = key
            self._pending = asyncio.ensure_future(asyncio.to_thread(
                self.scorer.score, **rows_for_rubric(prompts, completions, columns),
                judge=self.judge))
            batch = await self._pending
            self.last = batch
            self.scored_batches += 1
            self.score_seconds += batch.timings.get("score_s", 0.0)
            return batch
        return await self._pending

    def close(self) -> None:
        self.scorer.close()


def trl_rewards(rubric: Scorer | str | Path, judge=None, rubric_name: str | None = None,
                asynchronous: bool = False) -> TrlRewards:
    """Reward functions and weights for TRL from a compiled `Scorer` or a `.rubric` path;
    `asynchronous=True`: coroutine functions, which TRL awaits together."""
    scorer = rubric if isinstance(rubric, Scorer) else compile_rubric(Path(rubric), rubric=rubric_name)
    if SCORE in scorer.names:
        raise ValueError(f"an item is named `{SCORE}`, the name of the total's reward function")
    return TrlRewards(scorer, judge, asynchronous=asynchronous)


def rows_for_rubric(prompts: list, completions: list, columns: dict) -> dict:
    """TRL's prompts and completions as the rubric's `prompt`, `response` (and `messages` for
    conversational data: the prompt's turns, then the completion's)."""
    if completions and isinstance(completions[0], list):  # conversational
        messages = [list(p) + list(c) for p, c in zip(prompts, completions)]
        return columns | {"responses": [_last_content(c) for c in completions],
                          "prompts": [_last_content(p, role="user") for p in prompts],
                          "messages": messages}
    return columns | {"responses": list(completions), "prompts": list(prompts)}


def _last_content(turns: list[dict], role: str | None = None) -> str:
    for turn in reversed(turns):
        if role is None or turn.get("role") == role:
            content = turn.get("content", "")
            return content if isinstance(content, str) else "".join(
                part.get("text", "") for part in content if isinstance(part, dict))
    return ""
