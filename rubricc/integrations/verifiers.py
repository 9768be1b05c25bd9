"""A compiled rubric as a verifiers (Prime Intellect) `Rubric`, and an environment around it, for
the classic `import verifiers as vf` API (verifiers 0.1 to 0.3; in 0.3 it is `verifiers.legacy`,
which `import verifiers as vf` still answers to; the 0.4 `verifiers.v1` Task/Taskset API is not
covered):

    import verifiers as vf
    from rubricc.integrations.verifiers import rubricc_rubric

    env = vf.SingleTurnEnv(dataset=dataset, rubric=rubricc_rubric("rubrics/math/answer.rubric"))

or, so that a rubric (a pack's included) is an environment by name, a module with

    from rubricc.integrations.verifiers import load_environment  # vf.load_environment("my_env", rubric=...)

The rubric has one reward function, `score` (weight 1: the rubric's own total, which verifiers
trains on), then one metric per item (weight 0: recorded in `state["metrics"]`, never added) and
`valid`. The rollouts verifiers scores together (`score_group` gathers the reward function over
a group's states) are scored as one batch; each item's metric reads that row's result.

The rubric's columns: `response` is the completion (the last assistant message's text, and
`messages` the whole conversation for chat data), `prompt` the last user message; the dataset's
`answer` goes to the input `answer_column`, and other inputs are read from the row's `info`
dict and its other dataset columns.

A row that could not be scored (an item errored or timed out) gets `fail_reward` (default 0.0),
`valid` 0.0, and a `vf.Error` with the message in `state["error"]`: the field verifiers records a
failed rollout in, written to the rollout's output as its `error`, so that a trainer dropping
failed rollouts drops this one instead of learning from the stand-in reward. An item with no
value on a row (skipped behind a failed gate, another route's item) records `missing` (0.0).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

from rubricc.integrations import reserved, scorer_for
from rubricc.integrations.verl import _Batcher
from rubricc.scorer import Scorer
from rubricc.trainer.trl_adapter import rows_for_rubric

if TYPE_CHECKING:
    import verifiers as vf

RESULT = "rubricc_result"  # where a state keeps its row's result for the item metrics
EXTRA = ("score", "valid")


def rubricc_rubric(rubric: Scorer | str | Path, answer_column: str = "answer", *, judge=None,
                   fail_reward: float = 0.0, missing: float = 0.0,
                   rubric_name: str | None = None, **rubric_kwargs) -> vf.Rubric:
    """A `vf.Rubric` whose reward is the compiled rubric's total, with each item as a metric."""
    import verifiers as vf  # here, not at the top: importing this module needs no verifiers

    scorer = scorer_for(rubric, rubric_name)
    reserved(scorer, EXTRA)
    batchers: dict[asyncio.AbstractEventLoop, _Batcher] = {}

    async def score(prompt, completion, answer, state, info=None, **kwargs) -> float:
        if RESULT not in state:
            loop = asyncio.get_running_loop()
            batcher = batchers.setdefault(loop, _Batcher(scorer, judge, fail_reward))
            row = _row(scorer, prompt, completion, answer, info, state, answer_column)
            state[RESULT] = await batcher.submit(row)
        result = state[RESULT]
        if not result["valid"]:
            state["error"] = vf.Error(f"rubricc: {scorer.name}: {result['error']}")
        return result["score"]

    funcs, weights = [score], [1.0]
    for name in [*scorer.names, "valid"]:
        funcs.append(_metric(name, missing))
        weights.append(0.0)
    return vf.Rubric(funcs=funcs, weights=weights, **rubric_kwargs)


def load_environment(rubric: str | Path | None = None, dataset=None, *, eval_dataset=None,
                     answer_column: str = "answer", system_prompt: str | None = None,
                     rubric_name: str | None = None, judge=None, fail_reward: float = 0.0,
                     **env_kwargs) -> vf.Environment:
    """A single-turn environment scored by `rubric` (None: `$RUBRICC_RUBRIC`). `dataset` and
    `eval_dataset`: a `datasets.Dataset` with `question` (or `prompt`) and `answer` columns, or
    a `.jsonl` path of such rows."""
    import verifiers as vf

    scorer = scorer_for(rubric, rubric_name)
    return vf.SingleTurnEnv(
        dataset=_dataset(dataset), eval_dataset=_dataset(eval_dataset),
        system_prompt=system_prompt,
        rubric=rubricc_rubric(scorer, answer_column, judge=judge, fail_reward=fail_reward),
        **env_kwargs)


def _metric(name: str, missing: float):
    def metric(state, **kwargs) -> float:
        value = state.get(RESULT, {}).get(name)
        return missing if value is None else float(value)

    metric.__name__ = metric.__qualname__ = name
    return metric


def _row(scorer: Scorer, prompt, completion, answer, info, state, column: str) -> dict:
    columns = {}
    source = state.get("input") if isinstance(state.get("input"), dict) else {}
    for where in (source, info if isinstance(info, dict) else {}):
        columns |= {k: v for k, v in where.items() if k in scorer.inputs}
    columns[column] = answer
    [row] = _transpose(rows_for_rubric([prompt], [completion or ""], {k: [v] for k, v in columns.items()}))
    return row


def _transpose(cols: dict) -> list[dict]:
    rename = {"responses": "response", "prompts": "prompt"}
    size = len(next(iter(cols.values())))
    return [{rename.get(k, k): v[i] for k, v in cols.items()} for i in range(size)]


def _dataset(dataset):
    if dataset is None or not isinstance(dataset, str | Path):
        return dataset
    from datasets import Dataset

    rows = [json.loads(line) for line in Path(dataset).read_text().splitlines() if line.strip()]
    return Dataset.from_list(rows)
